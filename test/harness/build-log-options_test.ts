import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildLogAnswer, lastLinesStart } from './build-log-options.js';

const answer = (query: string, log: string): string | { readonly invalid: string } => {
  const result = buildLogAnswer(new URLSearchParams(query), Buffer.from(log));
  return Buffer.isBuffer(result) ? result.toString() : result;
};

describe('the builds/log stand-in cuts a log as OpenShift does (tailLines, then limitBytes)', () => {
  it('tailLines keeps the last n lines; a last line without its newline counts; 0 keeps nothing', () => {
    assert.equal(answer('tailLines=1', 'a\nb\nc\n'), 'c\n');
    assert.equal(answer('tailLines=2', 'a\nb\nc\n'), 'b\nc\n');
    assert.equal(answer('tailLines=9', 'a\nb\nc\n'), 'a\nb\nc\n');
    assert.equal(answer('tailLines=1', 'a\nb'), 'b');
    assert.equal(answer('tailLines=0', 'a\nb\n'), '');
    assert.equal(lastLinesStart(Buffer.from(''), 3), 0);
  });

  it('limitBytes keeps the first n bytes of what tailLines kept, through a line if it must', () => {
    assert.equal(answer('limitBytes=3', 'abcdef\n'), 'abc');
    assert.equal(answer('tailLines=2&limitBytes=3', 'a\nbbbb\ncc\n'), 'bbb');
    assert.equal(answer('', 'whole\n'), 'whole\n');
  });

  it('answers 400 to values the API server\'s validation refuses', () => {
    assert.deepEqual(answer('tailLines=-1', 'a\n'), { invalid: 'tailLines: must be greater than or equal to 0' });
    assert.deepEqual(answer('limitBytes=0', 'a\n'), { invalid: 'limitBytes: must be greater than 0' });
    assert.deepEqual(answer('limitBytes=x', 'a\n'), { invalid: 'limitBytes: must be greater than 0' });
  });
});
