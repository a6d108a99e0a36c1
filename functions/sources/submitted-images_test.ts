import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RECORD_LIMITS,
  EMPTY_SUBMITTED_IMAGES,
  isSubmitted,
  parseSubmittedImages,
  recordSubmitted,
  type SubmittedImages,
  type TagState,
} from './submitted-images.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const at = (minute: number): string => new Date(Date.UTC(2026, 10, 1, 0, minute)).toISOString();
const record = (entries: Record<string, string[]>, coveredUntil?: string): SubmittedImages => ({
  tags: new Map(Object.entries(entries)),
  ...(coveredUntil !== undefined ? { coveredUntil } : {}),
});
const reread = (value: string): SubmittedImages => {
  const { record: parsed, problem } = parseSubmittedImages(value);
  assert.equal(problem, undefined);
  return parsed;
};
const pending = (r: SubmittedImages, current: readonly TagState[]): string[] => current.filter((s) => !isSubmitted(r, s)).map((s) => s.tag);

describe('parseSubmittedImages', () => {
  it('reads nothing as an empty record', () => {
    assert.deepEqual(parseSubmittedImages(undefined), { record: EMPTY_SUBMITTED_IMAGES });
    assert.deepEqual(parseSubmittedImages(''), { record: EMPTY_SUBMITTED_IMAGES });
  });

  it('reads tags (integer-like names included) and the cover, normalised', () => {
    const value = JSON.stringify({ latest: [d(2), d(1)], '1': [d(3)], ':coveredUntil': '2026-11-01T00:00:00Z' });
    assert.deepEqual(parseSubmittedImages(value), {
      record: record({ latest: [d(2), d(1)], '1': [d(3)] }, '2026-11-01T00:00:00.000Z'),
    });
  });

  it('keeps only the newest perTag digests', () => {
    const value = JSON.stringify({ t: [1, 2, 3, 4, 5, 6, 7].map(d) });
    assert.deepEqual(parseSubmittedImages(value, { perTag: 3, maxBytes: 1024 }).record.tags.get('t'), [d(1), d(2), d(3)]);
  });

  const garbage: Array<[string, string, RegExp]> = [
    ['not JSON', '{latest:', /not JSON/],
    ['a list', '[]', /JSON object/],
    ['a string', '"x"', /JSON object/],
    ['a key that is not a tag', JSON.stringify({ 'a/b': [d(1)] }), /not a tag name/],
    ['an empty list', JSON.stringify({ t: [] }), /tag t: expected a list of digests/],
    ['a digest that is not one', JSON.stringify({ t: ['sha256:abc'] }), /list of digests/],
    ['a bare string', JSON.stringify({ t: d(1) }), /list of digests/],
    ['a bad cover', JSON.stringify({ ':coveredUntil': 'yesterday' }), /RFC 3339/],
    ['a huge value', 'x'.repeat(300 * 1024), /longer than/],
  ];
  for (const [name, value, problem] of garbage) {
    it(`reads ${name} as empty, with the reason`, () => {
      const parsed = parseSubmittedImages(value);
      assert.equal(parsed.record, EMPTY_SUBMITTED_IMAGES);
      assert.match(parsed.problem ?? '', problem);
    });
  }
});

describe('isSubmitted', () => {
  const r = record({ latest: [d(2), d(1)] }, at(10));
  const cases: Array<[string, TagState, boolean]> = [
    ['the recorded current digest', { tag: 'latest', digest: d(2) }, true],
    ['an earlier digest of the same tag', { tag: 'latest', digest: d(1) }, true],
    ['a digest recorded under another tag', { tag: 'v1', digest: d(1) }, true],
    ['a new digest created after the cover', { tag: 'v2', digest: d(9), created: at(11) }, false],
    ['a new digest created at the cover', { tag: 'v2', digest: d(9), created: at(10) }, true],
    ['a new digest created before the cover', { tag: 'v2', digest: d(9), created: at(3) }, true],
    ['a new digest without a created time', { tag: 'v2', digest: d(9) }, false],
  ];
  for (const [name, state, expected] of cases) {
    it(name, () => assert.equal(isSubmitted(r, state), expected));
  }
  it('nothing is covered without a cover', () => {
    assert.equal(isSubmitted(record({}), { tag: 'a', digest: d(1), created: at(0) }), false);
  });
});

describe('recordSubmitted', () => {
  it('records submitted tags, newest digest first, bounded per tag, without duplicates', () => {
    let r = record({ latest: [d(5), d(4), d(3), d(2), d(1)], old: [d(7)] });
    const current: TagState[] = [
      { tag: 'latest', digest: d(6) },
      { tag: 'new', digest: d(8) },
      { tag: 'failed', digest: d(9) },
      { tag: 'alias', digest: d(7) },
      { tag: 'old', digest: d(7) },
    ];
    const update = recordSubmitted(r, current, [d(6), d(8)]);
    assert.deepEqual(update.abandoned, []);
    r = reread(update.value);
    assert.deepEqual(Object.fromEntries(r.tags), {
      latest: [d(6), d(5), d(4), d(3), d(2)],
      old: [d(7)],
      new: [d(8)],
      alias: [d(7)],
    });
    assert.deepEqual(pending(r, current), ['failed']);
  });

  it('a tag moved back to an earlier image is re-recorded at the head, not resubmitted', () => {
    const r = record({ latest: [d(2), d(1)] });
    const current = [{ tag: 'latest', digest: d(1) }];
    assert.deepEqual(pending(r, current), []);
    const update = recordSubmitted(r, current, []);
    assert.deepEqual(JSON.parse(update.value), { latest: [d(1), d(2)] });
  });

  it('leaves an unchanged record unchanged and small records alone', () => {
    const r = record({ gone: [d(3)], latest: [d(2), d(1)] });
    assert.deepEqual(JSON.parse(recordSubmitted(r, [{ tag: 'latest', digest: d(2) }], [d(2)]).value), { gone: [d(3)], latest: [d(2), d(1)] });
  });

  it('over the cap, first forgets tags that left the stream, then history, then covers the oldest tags', () => {
    const history = [1, 2, 3, 4, 5].map(d);
    const base = { a: history, b: history, gone: [d(99)] };
    const current: TagState[] = [
      { tag: 'a', digest: d(1), created: at(1) },
      { tag: 'b', digest: d(1), created: at(2) },
    ];
    const full = JSON.stringify(base).length;
    const withoutGone = JSON.stringify({ a: history, b: history }).length;
    const depth1 = JSON.stringify({ a: [d(1)], b: [d(1)] }).length;

    const limits = (maxBytes: number) => ({ perTag: 5, maxBytes });
    assert.deepEqual(JSON.parse(recordSubmitted(record(base), current, [], limits(full)).value), base);
    assert.deepEqual(JSON.parse(recordSubmitted(record(base), current, [], limits(withoutGone)).value), { a: history, b: history });
    assert.deepEqual(JSON.parse(recordSubmitted(record(base), current, [], limits(withoutGone - 1)).value), {
      a: history.slice(0, 4),
      b: history.slice(0, 4),
    });
    assert.deepEqual(JSON.parse(recordSubmitted(record(base), current, [], limits(depth1)).value), { a: [d(1)], b: [d(1)] });
    const covered = recordSubmitted(record(base), current, [], limits(depth1 - 1));
    assert.ok(covered.value.length <= depth1 - 1);
    assert.deepEqual(JSON.parse(covered.value), { b: [d(1)], ':coveredUntil': at(1) });
    assert.deepEqual(pending(reread(covered.value), current), []);
  });

  it('a stream with far more tags than fit: bounded, no resubmission loop, new tags still detected', () => {
    const limits = { perTag: 5, maxBytes: 4096 };
    const tags: TagState[] = Array.from({ length: 400 }, (_, i) => ({ tag: `build-${i}`, digest: d(i + 1), created: at(i) }));
    let r: SubmittedImages = EMPTY_SUBMITTED_IMAGES;
    // Submitted oldest first in batches, as pendingImages orders them.
    for (let start = 0; start < tags.length; start += 50) {
      const batch = tags.slice(start, start + 50);
      const update = recordSubmitted(r, tags, batch.map((s) => s.digest), limits);
      assert.ok(Buffer.byteLength(update.value) <= limits.maxBytes, `batch at ${start}: ${update.value.length} bytes`);
      assert.deepEqual(update.abandoned, []);
      r = reread(update.value);
      assert.deepEqual(pending(r, tags), tags.slice(start + 50).map((s) => s.tag));
    }
    assert.ok(r.coveredUntil !== undefined);
    // Later updates with nothing new change nothing and submit nothing.
    assert.deepEqual(reread(recordSubmitted(r, tags, [], limits).value), r);
    const moved = [...tags, { tag: 'build-3', digest: d(1000), created: at(1000) }].filter((s, i, all) => all.findLastIndex((o) => o.tag === s.tag) === i);
    assert.deepEqual(pending(r, moved), ['build-3']);
  });

  it('reports unsubmitted tags the cap had to cover', () => {
    const limits = { perTag: 1, maxBytes: 600 };
    const tags: TagState[] = Array.from({ length: 20 }, (_, i) => ({ tag: `t${i}`, digest: d(i + 1), created: at(i) }));
    const submitted = tags.filter((s) => s.tag !== 't0').map((s) => s.digest);
    const update = recordSubmitted(EMPTY_SUBMITTED_IMAGES, tags, submitted, limits);
    assert.ok(update.value.length <= limits.maxBytes);
    assert.deepEqual(update.abandoned, ['t0']);
    assert.deepEqual(pending(reread(update.value), tags), []);
  });

  it('default limits: 5 digests per tag, 32 KiB', () => {
    assert.deepEqual(DEFAULT_RECORD_LIMITS, { perTag: 5, maxBytes: 32 * 1024 });
  });
});
