import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { streamRepositories } from './imagestream-repositories.js';
import { parseKubeObject } from './object.js';

const REG = 'image-registry.openshift-image-registry.svc:5000';
const ROUTE = 'default-route-openshift-image-registry.apps.example.com';

const stream = (status: unknown) =>
  parseKubeObject({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { namespace: 'team', name: 'app' }, status });

describe('streamRepositories', () => {
  const cases: [string, unknown, ReturnType<typeof streamRepositories>][] = [
    ['both fields', { dockerImageRepository: `${REG}/team/app`, publicDockerImageRepository: `${ROUTE}/team/app` }, { own: `${REG}/team/app`, route: `${ROUTE}/team/app` }],
    ['a stream not served yet', { dockerImageRepository: '' }, {}],
    ['no status', undefined, {}],
    ['a status that is not an object', 'ready', {}],
    ['a field that is not a string', { dockerImageRepository: 5 }, {}],
    ['a field that is not an image name', { dockerImageRepository: 'Not A Name', publicDockerImageRepository: `${ROUTE}/team/app` }, { route: `${ROUTE}/team/app` }],
    ['a name written the short way, read as docker reads it', { dockerImageRepository: 'team/app:latest' }, { own: 'docker.io/team/app' }],
  ];
  for (const [name, status, expected] of cases) {
    it(name, () => assert.deepEqual(streamRepositories(stream(status)), expected));
  }
});
