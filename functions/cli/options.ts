/**
 * The command line's flags: the original build-watcher's, each an alias of the environment variable the function reads (a flag
 * wins over the variable), plus a few of our own.
 */
import { parseArgs } from 'node:util';
import { KIND_NAMES } from '../domain/kinds.js';

interface Flag {
  readonly name: string;
  readonly short?: string;
  /** The variable it sets; boolean flags set it to 1. */
  readonly env?: string;
  /** For boolean flags with an env: the value set (default '1'). */
  readonly envValue?: string;
  readonly takesValue: boolean;
  readonly help: string;
}

const DEFAULT_RESYNC_MINUTES = 30;

export const FLAGS: readonly Flag[] = [
  { name: 'build-watcher-namespace', short: 'n', env: 'THOTH_WATCHED_NAMESPACE', takesValue: true, help: 'namespaces to watch, comma-separated (default: the kubeconfig context\'s, else default)' },
  { name: 'thoth-api-host', short: 'a', env: 'THOTH_USER_API_HOST', takesValue: true, help: 'Thoth User API host[:port] or URL (required)' },
  { name: 'no-tls-verify', short: 'T', env: 'THOTH_NO_TLS_VERIFY', takesValue: false, help: 'do not verify Thoth\'s TLS certificate' },
  { name: 'pass-token', short: 'p', env: 'THOTH_PASS_TOKEN', takesValue: false, help: 'let Thoth pull from the cluster registry with your token (kubeconfig user) — it leaves your machine' },
  { name: 'no-src-registry-tls-verify', short: 'S', env: 'THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY', takesValue: false, help: 'do not verify the cluster registry\'s TLS certificate' },
  { name: 'no-dst-registry-tls-verify', short: 'D', env: 'THOTH_NO_DESTINATION_REGISTRY_TLS_VERIFY', takesValue: false, help: 'do not verify the push registry\'s TLS certificate' },
  { name: 'push-registry', short: 'r', env: 'THOTH_PUSH_REGISTRY', takesValue: true, help: 'copy images to host[:port][/path] and submit the copies' },
  { name: 'workers-count', env: 'THOTH_BUILD_WATCHER_WORKERS', takesValue: true, help: 'objects processed at once (default 1)' },
  { name: 'analyze-existing', env: 'THOTH_ANALYZE_EXISTING', takesValue: false, help: 'also submit every ImageStream tag\'s current image' },
  { name: 'environment-type', env: 'THOTH_ENVIRONMENT_TYPE', takesValue: true, help: 'runtime (default) or buildtime' },
  { name: 'no-base', env: 'THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE', takesValue: false, help: 'do not submit base images' },
  { name: 'no-output', env: 'THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE', takesValue: false, help: 'do not submit output images' },
  { name: 'no-build-log', env: 'THOTH_BUILD_ANALYSIS_NO_BUILD_LOG', takesValue: false, help: 'do not submit build logs' },
  { name: 'debug', env: 'THOTH_BUILD_ANALYSIS_DEBUG', takesValue: false, help: 'ask Thoth to run its analyses in debug mode' },
  { name: 'force', env: 'THOTH_BUILD_ANALYSIS_FORCE', takesValue: false, help: 'ask Thoth to analyse again, ignoring its cache' },
  { name: 'verbose', short: 'v', takesValue: false, help: 'log every decision (debug level)' },
  { name: 'kinds', env: 'BUILD_WATCHER_SOURCE_KINDS', takesValue: true, help: `${KIND_NAMES.join(', ')}, comma-separated (default Build)` },
  { name: 'sweep-batch', env: 'BUILD_WATCHER_SWEEP_BATCH', takesValue: true, help: 'analyze-existing: objects held at once, waiting for a worker (default 200)' },
  { name: 'kubeconfig', env: 'KUBECONFIG', takesValue: true, help: 'kubeconfig file (default: KUBECONFIG, else ~/.kube/config)' },
  { name: 'no-kubernetes-tls-verify', env: 'KUBERNETES_VERIFY_TLS', envValue: '0', takesValue: false, help: 'do not verify the API server\'s TLS certificate' },
  { name: 'watch-timeout', takesValue: true, help: 'watch: seconds before the server ends each watch (default 300–600, then it resumes)' },
  { name: 'resync-minutes', takesValue: true, help: `watch: list everything again this often, so a finished object still unmarked is tried again (default ${DEFAULT_RESYNC_MINUTES}; 0: never)` },
  { name: 'help', short: 'h', takesValue: false, help: 'show this help' },
];

const COMMANDS = {
  watch: 'list, then watch the namespace\'s Builds (and the other --kinds) and submit each finished one once',
  'analyze-existing': 'submit what is already there (finished Builds, ImageStream tags, enabled kinds) once, then exit',
} as const;

export type Command = keyof typeof COMMANDS;

export interface CliOptions {
  readonly command: Command | undefined;
  readonly help: boolean;
  readonly verbose: boolean;
  /** Variables the flags set, to lay over the environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly watchTimeoutSeconds?: number;
  /** watch: minutes between full lists; 0 for none. */
  readonly resyncMinutes: number;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandLine(argv: readonly string[]): CliOptions {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const flag of FLAGS) spec[flag.name] = { type: flag.takesValue ? 'string' : 'boolean', ...(flag.short !== undefined ? { short: flag.short } : {}) };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0] ?? 'bad arguments' : 'bad arguments');
  }
  const { values } = parsed;
  const env: Record<string, string> = {};
  for (const flag of FLAGS) {
    const value = values[flag.name];
    if (value === undefined || value === false || flag.env === undefined) continue;
    env[flag.env] = value === true ? (flag.envValue ?? '1') : value;
  }
  const [command, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (command !== undefined && !(command in COMMANDS)) throw new UsageError(`unknown command ${JSON.stringify(command)}: expected ${Object.keys(COMMANDS).join(' or ')}`);
  let watchTimeoutSeconds: number | undefined;
  const timeout = values['watch-timeout'];
  if (typeof timeout === 'string') {
    watchTimeoutSeconds = Number(timeout);
    if (!Number.isInteger(watchTimeoutSeconds) || watchTimeoutSeconds < 1 || watchTimeoutSeconds > 3600) {
      throw new UsageError('--watch-timeout: expected seconds from 1 to 3600');
    }
  }
  const resync = values['resync-minutes'];
  const resyncMinutes = typeof resync === 'string' ? Number(resync) : DEFAULT_RESYNC_MINUTES;
  // Fractions are allowed: tests resync every few seconds.
  if ((typeof resync === 'string' && resync.trim() === '') || !Number.isFinite(resyncMinutes) || resyncMinutes < 0 || resyncMinutes > 10_080) {
    throw new UsageError('--resync-minutes: expected minutes from 0 (never) to 10080');
  }
  return {
    command: command as Command | undefined,
    help: values['help'] === true,
    verbose: values['verbose'] === true,
    env,
    resyncMinutes,
    ...(watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds } : {}),
  };
}

export function helpText(): string {
  const lines = [
    'Usage: build-watcher <command> [options]',
    '',
    'Submits images built in a cluster to Thoth, each once, using the current kubeconfig',
    '(after `oc login`). The same pipeline, marks and configuration as the Knative function:',
    'every option may also be given as the environment variable shown.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(18)} ${what}`),
    '',
    'Options:',
  ];
  for (const flag of FLAGS) {
    const names = `${flag.short !== undefined ? `-${flag.short}, ` : '    '}--${flag.name}${flag.takesValue ? ' <value>' : ''}`;
    const variable = flag.env === undefined ? '' : ` [${flag.env}${flag.envValue !== undefined ? `=${flag.envValue}` : ''}]`;
    lines.push(`  ${names.padEnd(40)} ${flag.help}${variable}`);
  }
  lines.push(
    '',
    'watch retries an object that failed for a transient reason (Thoth or the API server down) with',
    'a backoff that doubles up to 5 minutes, for as long as it fails; it never gives up on it.',
  );
  lines.push('', 'Other variables of the function (credentials, THOTH_CA_BUNDLE, …) are read as well.');
  return `${lines.join('\n')}\n`;
}
