import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from './config.js';

const BASE = { THOTH_USER_API_HOST: 'user-api.thoth.example.com' };

function problems(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults match the original bot: verify TLS, runtime, everything sent, one worker', () => {
    const config = loadConfig(BASE);
    assert.equal(config.thothVerifyTls, true);
    assert.equal(config.environmentType, 'runtime');
    assert.equal(config.sendBaseImage && config.sendOutputImage && config.sendBuildLog, true);
    assert.equal(config.workers, 1);
    assert.equal(config.passToken, false);
    assert.deepEqual(config.watchedNamespaces, []);
    assert.equal(config.trustEventPayload, false);
  });

  it('booleans accept 0/1 as the templates used, and true/false', () => {
    const config = loadConfig({ ...BASE, THOTH_NO_TLS_VERIFY: '1', THOTH_PASS_TOKEN: 'true', THOTH_BUILD_ANALYSIS_DEBUG: '0', THOTH_BUILD_ANALYSIS_FORCE: 'false' });
    assert.equal(config.thothVerifyTls, false);
    assert.equal(config.passToken, true);
    assert.equal(config.debug, false);
    assert.equal(config.force, false);
  });

  it('reads what Kubernetes or the shell sets, not the ConfigMap: HOSTNAME, POD_NAMESPACE, KUBERNETES_VERIFY_TLS', () => {
    const set = loadConfig({ HOSTNAME: 'build-watcher-00001-deployment-7f9c-x2x4z', POD_NAMESPACE: ' team\n', KUBERNETES_VERIFY_TLS: 'Off' });
    assert.deepEqual([set.hostname, set.podNamespace, set.kubernetesVerifyTls], ['build-watcher-00001-deployment-7f9c-x2x4z', 'team', false]);
    const unset = loadConfig({});
    assert.deepEqual([unset.hostname, unset.podNamespace, unset.kubernetesVerifyTls], ['build-watcher', '', true]);
    assert.equal(loadConfig({ KUBERNETES_VERIFY_TLS: '1' }).kubernetesVerifyTls, true);
    for (const name of ['HOSTNAME', 'POD_NAMESPACE', 'KUBERNETES_VERIFY_TLS']) assert.ok(!CONFIG_VARIABLES.includes(name), `${name} is no ConfigMap key`);
  });

  it('THOTH_WATCHED_NAMESPACE is an allow-list', () => {
    assert.deepEqual(loadConfig({ ...BASE, THOTH_WATCHED_NAMESPACE: 'team-a, team-b' }).watchedNamespaces, ['team-a', 'team-b']);
  });

  it('names every bad variable in one message, never a secret value', () => {
    const error = problems({
      THOTH_NO_TLS_VERIFY: 'maybe',
      THOTH_ENVIRONMENT_TYPE: 'production',
      THOTH_BUILD_WATCHER_WORKERS: '0',
      THOTH_SRC_REGISTRY_USER: 'me',
      THOTH_SRC_REGISTRY_PASSWORD: 'hunter2-secret',
      THOTH_PASS_TOKEN: '1',
    });
    for (const name of ['THOTH_NO_TLS_VERIFY', 'THOTH_ENVIRONMENT_TYPE', 'THOTH_BUILD_WATCHER_WORKERS']) {
      assert.ok(error.variables.includes(name), `${name} missing from ${error.message}`);
    }
    assert.doesNotMatch(error.message, /hunter2/);
    assert.doesNotMatch(error.message, /maybe|production/);
    assert.equal(error.message.split('\n').length, 1);
  });

  it('runs without Thoth when THOTH_USER_API_HOST is empty, and wants an http(s) URL in K_SINK', () => {
    assert.equal(loadConfig({}).thothHost, '');
    assert.equal(loadConfig({ K_SINK: 'http://broker-ingress.knative-eventing.svc.cluster.local/ns/default' }).eventSink, 'http://broker-ingress.knative-eventing.svc.cluster.local/ns/default');
    assert.match(problems({ K_SINK: 'broker' }).message, /K_SINK \(expected an http\(s\) URL\)/);
  });

  it('BUILD_WATCHER_CDEVENTS: both by default, any of published and packaged, none or empty for none', () => {
    assert.deepEqual(loadConfig({}).cdEvents, ['published', 'packaged']);
    assert.deepEqual(loadConfig({ BUILD_WATCHER_CDEVENTS: 'published' }).cdEvents, ['published']);
    assert.deepEqual(loadConfig({ BUILD_WATCHER_CDEVENTS: 'none' }).cdEvents, []);
    assert.deepEqual(loadConfig({ BUILD_WATCHER_CDEVENTS: '' }).cdEvents, []);
    assert.throws(() => loadConfig({ BUILD_WATCHER_CDEVENTS: 'published,signed' }), /BUILD_WATCHER_CDEVENTS \(expected none or a comma-separated list of published, packaged\)/);
  });

  it('keeps the original start-up rules', () => {
    const allOff = problems({ ...BASE, THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE: '1', THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE: '1', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' });
    assert.match(allOff.message, /nothing to submit/);
    const noPush = problems({ ...BASE, THOTH_SRC_REGISTRY_USER: 'u', THOTH_SRC_REGISTRY_PASSWORD: 'p4ssword' });
    assert.deepEqual(noPush.variables, ['THOTH_SRC_REGISTRY_USER']);
    const both = problems({ ...BASE, THOTH_PUSH_REGISTRY: 'quay.io/acme', THOTH_PASS_TOKEN: '1', THOTH_SRC_REGISTRY_USER: 'u', THOTH_SRC_REGISTRY_PASSWORD: 'p4ssword' });
    assert.deepEqual(both.variables, ['THOTH_PASS_TOKEN']);
  });

  it('refuses an unreadable THOTH_CA_BUNDLE at start, not at the first submission', () => {
    assert.deepEqual(problems({ ...BASE, THOTH_CA_BUNDLE: '/nonexistent/ca.pem' }).variables, ['THOTH_CA_BUNDLE']);
  });

  it('THOTH_USER_API_HOST takes host[:port] or a URL', () => {
    assert.equal(loadConfig({ THOTH_USER_API_HOST: 'user-api:8443' }).thothHost, 'user-api:8443');
    assert.equal(loadConfig({ THOTH_USER_API_HOST: 'http://127.0.0.1:39999' }).thothHost, 'http://127.0.0.1:39999');
    assert.deepEqual(problems({ THOTH_USER_API_HOST: 'not a host' }).variables, ['THOTH_USER_API_HOST']);
  });
});
