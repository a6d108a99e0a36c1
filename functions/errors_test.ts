import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asFailure, invalid, kindOfHttpStatus, kindOfTransportError, refused, transient } from './errors.js';
import { KubeApiError } from './kube/api.js';
import { networkError, RegistryError } from './registry/registry-error.js';

describe('the one failure classifier, used by every client', () => {
  const statuses: [number, 'refused' | 'transient'][] = [
    [400, 'refused'], [401, 'refused'], [403, 'refused'], [404, 'refused'], [405, 'refused'], [413, 'refused'], [422, 'refused'],
    [408, 'transient'], [409, 'transient'], [429, 'transient'],
    [500, 'transient'], [502, 'transient'], [503, 'transient'], [504, 'transient'],
  ];
  for (const [status, kind] of statuses) {
    it(`HTTP ${status} is ${kind}, for Kubernetes and registries alike`, () => {
      assert.equal(kindOfHttpStatus(status), kind);
      assert.equal(new KubeApiError(status, 'GET /x', '').kind, kind);
    });
  }

  const codes = [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
    'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
  ];
  for (const code of codes) {
    it(`TLS failure ${code} is refused: retrying within one delivery cannot fix it`, () => {
      assert.equal(kindOfTransportError(code), 'refused');
      assert.equal(networkError(Object.assign(new Error('tls'), { code }), { registry: 'r' }, 'GET').kind, 'refused');
    });
  }
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', undefined]) {
    it(`transport failure ${code ?? '(no code)'} is transient`, () => assert.equal(kindOfTransportError(code), 'transient'));
  }

  it('an unclassified error is transient; a classified one keeps its kind', () => {
    assert.equal(asFailure(new TypeError('x')).kind, 'transient');
    const registry = new RegistryError('refused', { registry: 'r' }, 'no');
    assert.equal(asFailure(registry), registry);
  });

  it('a failure carries the status the function answers it with; invalid input keeps its own 4xx', () => {
    assert.equal(transient('Thoth unavailable').status, 503, 'a numeric 503: Knative redelivers');
    assert.equal(refused('manifest unknown').status, 200, 'a 2xx: redelivering cannot help, the refused reply says why');
    assert.equal(invalid('not a CloudEvent').status, 400);
    assert.equal(invalid('not a kind we handle', 422).status, 422);
  });
});
