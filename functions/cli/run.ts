/**
 * The command line from arguments to exit status (a wiring module, with index.ts and wiring.ts): flags over the
 * environment, the current kubeconfig, the configuration the function would load, then one command.
 * Exit status: 0 done, 1 failures (see the log), 2 bad usage or configuration.
 */
import { rmSync } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { BuildWatcherError } from '../errors.js';
import { connectKubeApi, type KubeConnection } from '../kube/api.js';
import { serviceAccountFile } from '../kube/service-account.js';
import { registerSecret } from '../observability/redact.js';
import { wire } from '../wiring.js';
import { analyzeExistingCommand, EXIT_FAILURES, watchCommand } from './commands.js';
import { helpText, parseCommandLine, UsageError, type CliOptions } from './options.js';
import { Terminal, type TerminalOutput } from './terminal.js';

const EXIT_USAGE = 2;

export interface CliIo {
  readonly stderr: TerminalOutput;
  readonly stdout: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

const DEFAULT_TOKEN_FILE = serviceAccountFile('token');
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/**
 * On a laptop there is no service-account token: --pass-token then means the kubeconfig user's own token (as the
 * original did), in a private temporary file for the run (the pipeline reads credentials from files only). The file
 * goes at the end of the run, and synchronously on any exit that skips that (a second Ctrl-C, a crash): a user's
 * token must not outlive the run on disk. Only SIGKILL can leave it behind.
 */
async function withUserToken(config: Config, streaming: KubeConnection): Promise<{ config: Config; cleanup: () => Promise<void> }> {
  const none = { config, cleanup: async () => {} };
  // A BUILD_WATCHER_TOKEN_FILE of its own is used as it is, present or not.
  if (!config.passToken || config.tokenFile !== DEFAULT_TOKEN_FILE || (await exists(DEFAULT_TOKEN_FILE))) return none;
  const token = streaming.userToken;
  if (token === undefined) throw new UsageError('--pass-token needs a bearer token: log in with `oc login`, or set BUILD_WATCHER_TOKEN_FILE');
  registerSecret(token);
  const dir = await mkdtemp(join(tmpdir(), 'build-watcher-'));
  const removeAtExit = () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Exiting anyway: nothing more can be done.
    }
  };
  process.once('exit', removeAtExit);
  const cleanup = async () => {
    process.off('exit', removeAtExit);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    return { config: { ...config, tokenFile }, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export async function main(argv: readonly string[], environment: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    io.stderr.write(`build-watcher: ${error instanceof Error ? error.message : 'bad arguments'} (see build-watcher --help)\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    io.stdout(helpText());
    return 0;
  }
  if (options.command === undefined) {
    io.stderr.write(helpText());
    return EXIT_USAGE;
  }
  const env: NodeJS.ProcessEnv = { ...environment, ...options.env };
  // The command is named after the original's flag: it always includes ImageStreams.
  if (options.command === 'analyze-existing') env['THOTH_ANALYZE_EXISTING'] = '1';
  const terminal = new Terminal(io.stderr, options.verbose ? 'debug' : 'info');
  const log = terminal.log;

  let cleanup = async () => {};
  try {
    const loaded = loadConfig(env);
    const kubeconfigPath = options.env['KUBECONFIG'];
    const streaming = await connectKubeApi({ ...(kubeconfigPath !== undefined ? { kubeconfigPath } : {}), verifyTls: loaded.kubernetesVerifyTls });
    const prepared = await withUserToken(loaded, streaming);
    cleanup = prepared.cleanup;
    const config = prepared.config;
    const namespaces = config.watchedNamespaces.length > 0 ? config.watchedNamespaces : [streaming.contextNamespace ?? 'default'];
    const context = { config, wiring: wire(config, async () => streaming), streaming, namespaces, terminal, signal: io.signal,
      print: (line: string) => io.stdout(`${line}\n`), ...(options.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}),
      ...(options.resyncMinutes > 0 ? { resyncMs: Math.round(options.resyncMinutes * 60_000) } : {}) };

    return options.command === 'watch' ? await watchCommand(context) : await analyzeExistingCommand(context);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError || (error instanceof BuildWatcherError && error.kind === 'invalid')) {
      log.error({}, error.message);
      return EXIT_USAGE;
    }
    log.error({}, error instanceof Error ? error.message : 'unknown failure');
    return EXIT_FAILURES;
  } finally {
    await cleanup();
  }
}
