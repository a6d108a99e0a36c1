import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlappingPatterns, ownsImage, parseRepositoryPattern, type RepositoryPattern } from './namespace-repositories.js';

function pattern(text: string): RepositoryPattern {
  const parsed = parseRepositoryPattern(text);
  if (typeof parsed === 'string') assert.fail(parsed);
  return parsed;
}

const at = (registry: string, repository: string) => ({ registry, repository });

describe('namespace repositories', () => {
  it('a namespace owns its substituted path and everything under it, by whole components', () => {
    const rules = [pattern('quay.example.com/org/{namespace}')];
    assert.equal(ownsImage(rules, 'team', at('quay.example.com', 'org/team')), true);
    assert.equal(ownsImage(rules, 'team', at('quay.example.com', 'org/team/app/deep')), true);
    assert.equal(ownsImage(rules, 'team', at('QUAY.EXAMPLE.COM', 'org/team/app')), true);
    for (const repository of ['org/team-a/app', 'org/teamx', 'org', 'org/victim/app', 'team/app', 'org//team/app']) {
      assert.equal(ownsImage(rules, 'team', at('quay.example.com', repository)), false, repository);
    }
    assert.equal(ownsImage(rules, 'team', at('quay.example.com:443', 'org/team/app')), false, 'another port is another origin');
    assert.equal(ownsImage([], 'team', at('quay.example.com', 'org/team/app')), false, 'no rule: nothing is owned');
  });

  it('refuses entries that would not draw a boundary', () => {
    for (const text of ['quay.example.com', 'quay.example.com/{namespace}-x', 'quay.example.com/{namespace}/{namespace}', 'https://quay.example.com/{namespace}', 'quay.example.com/Org/{namespace}', '/{namespace}']) {
      assert.equal(typeof parseRepositoryPattern(text), 'string', text);
    }
    assert.deepEqual(pattern('Registry.Example.com:5000/a/{namespace}/b/'), { host: 'registry.example.com:5000', components: ['a', '{namespace}', 'b'] });
  });

  it('finds patterns by which two namespaces could own one repository', () => {
    const overlapping = [['h/{namespace}', 'h/org/{namespace}'], ['h/a/{namespace}', 'h/{namespace}/c'], ['h/{namespace}/x', 'h/a/{namespace}/y']];
    for (const pair of overlapping) assert.ok(overlappingPatterns(pair.map(pattern)), pair.join(' '));
    const apart = [['h/a/{namespace}', 'h/b/{namespace}'], ['h/{namespace}', 'h/{namespace}/images'], ['h/{namespace}', 'g/org/{namespace}']];
    for (const pair of apart) assert.equal(overlappingPatterns(pair.map(pattern)), undefined, pair.join(' '));
  });
});
