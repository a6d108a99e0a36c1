/**
 * The schema of dev.build-watcher.image.built data is strict and means what the README says: its
 * own example passes; a tag instead of a digest, a missing uid, an unknown member or a build log
 * elsewhere than the API server's builds/log path fail. The function's real replies are checked
 * against it where the function emits them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { IMAGE_BUILT_SCHEMA_PATH, IMAGE_BUILT_TYPE, imageBuiltValidator } from './image-built-schema.js';
import { field } from './manifests.js';
import { loadAllManifests } from './manifests.js';

const validate = imageBuiltValidator();
const schema: unknown = JSON.parse(readFileSync(IMAGE_BUILT_SCHEMA_PATH, 'utf8'));
const examples = field(schema, 'examples');
assert.ok(Array.isArray(examples));
const example = examples[0] as { object: Record<string, unknown>; images: Record<string, unknown>[]; buildLog: Record<string, unknown> };
const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('dev.build-watcher.image.built data schema', () => {
  it('accepts its own example, without base image or build log too', () => {
    for (const data of [example, { object: example.object, images: [{ output: `quay.io/team/app@${DIGEST}` }] }]) {
      const result = validate(data);
      assert.ok(result.valid, result.errors);
    }
  });

  it('refuses what an analyzer could not rely on', () => {
    const bad: Record<string, unknown> = {
      'a tag': { ...example, images: [{ output: 'quay.io/team/app:latest' }] },
      'tag and no digest hex': { ...example, images: [{ output: 'quay.io/team/app@sha256:abc' }] },
      'no uid': { ...example, object: { ...example.object, uid: undefined } },
      'no images': { ...example, images: [] },
      'an unknown member': { ...example, thoth: {} },
      'a log elsewhere': { ...example, buildLog: { path: 'https://evil.example/log' } },
      'an unknown kind': { ...example, object: { ...example.object, kind: 'Pod' } },
    };
    for (const [what, data] of Object.entries(bad)) assert.equal(validate(JSON.parse(JSON.stringify(data))).valid, false, what);
  });

  it('is the type the shipped example Trigger subscribes to', () => {
    const trigger = loadAllManifests().find((m) => m.object.kind === 'Trigger' && m.object.metadata.name === 'build-watcher-image-built');
    assert.equal(field(trigger?.object, 'spec', 'filter', 'attributes', 'type'), IMAGE_BUILT_TYPE);
  });
});
