import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../config.js';
import { FLAGS, helpText, parseCommandLine, UsageError } from './options.js';

/** The original build-watcher's flags, as the issue lists them. */
const ORIGINAL = [
  'build-watcher-namespace', 'thoth-api-host', 'no-tls-verify', 'pass-token', 'no-src-registry-tls-verify', 'no-dst-registry-tls-verify',
  'push-registry', 'workers-count', 'analyze-existing', 'environment-type', 'no-base', 'no-output', 'no-build-log', 'debug', 'force', 'verbose',
];

describe('command-line flags', () => {
  it('keeps every original flag, and --help lists them all', () => {
    const help = helpText();
    for (const name of ORIGINAL) {
      assert.ok(FLAGS.some((flag) => flag.name === name), name);
      assert.match(help, new RegExp(`--${name}\\b`));
    }
    for (const flag of FLAGS) assert.match(help, new RegExp(`--${flag.name}\\b`));
  });

  it('sets the variables the function reads (flags are aliases, never a second configuration)', () => {
    for (const flag of FLAGS) {
      if (flag.env === undefined || flag.env === 'KUBECONFIG' || flag.env === 'KUBERNETES_VERIFY_TLS') continue;
      assert.ok(CONFIG_VARIABLES.includes(flag.env), `${flag.name} → ${flag.env}`);
    }
    const options = parseCommandLine([
      'watch', '-n', 'team-a,team-b', '--thoth-api-host', 'thoth.example.com', '--pass-token', '--no-base', '--workers-count', '4',
      '--environment-type', 'buildtime', '--no-kubernetes-tls-verify', '--verbose',
    ]);
    assert.equal(options.command, 'watch');
    assert.equal(options.verbose, true);
    assert.deepEqual(options.env, {
      THOTH_WATCHED_NAMESPACE: 'team-a,team-b',
      THOTH_USER_API_HOST: 'thoth.example.com',
      THOTH_PASS_TOKEN: '1',
      THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE: '1',
      THOTH_BUILD_WATCHER_WORKERS: '4',
      THOTH_ENVIRONMENT_TYPE: 'buildtime',
      KUBERNETES_VERIFY_TLS: '0',
    });
  });

  it('refuses unknown flags, commands and arguments, and a bad --watch-timeout', () => {
    for (const argv of [['watch', '--bogus'], ['sweep'], ['watch', 'extra'], ['watch', '--watch-timeout', '0'], ['watch', '--watch-timeout', 'soon']]) {
      assert.throws(() => parseCommandLine(argv), UsageError, argv.join(' '));
    }
    assert.equal(parseCommandLine(['watch', '--watch-timeout', '5']).watchTimeoutSeconds, 5);
    assert.equal(parseCommandLine(['--help']).help, true);
  });

  it('resyncs every 30 minutes unless --resync-minutes says otherwise, and says how transient failures are retried', () => {
    assert.equal(parseCommandLine(['watch']).resyncMinutes, 30);
    assert.equal(parseCommandLine(['watch', '--resync-minutes', '5']).resyncMinutes, 5);
    assert.equal(parseCommandLine(['watch', '--resync-minutes', '0.05']).resyncMinutes, 0.05);
    assert.equal(parseCommandLine(['watch', '--resync-minutes', '0']).resyncMinutes, 0);
    for (const value of ['soon', '-1', '', ' ', '99999']) {
      assert.throws(() => parseCommandLine(['watch', '--resync-minutes', value]), UsageError, JSON.stringify(value));
    }
    assert.match(helpText(), /--resync-minutes <value>\s+watch: list everything again/);
    assert.match(helpText(), /never gives up/);
  });
});
