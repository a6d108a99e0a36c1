/**
 * The command line against the real API server, as a user runs it: `build-watcher watch` and
 * `build-watcher analyze-existing` in a child process, with a kubeconfig (a service account's
 * token, as `oc login` gives a user's), a real registry and the Thoth stand-in. The watch goes
 * through a TCP relay the test can cut, and asks the server to end each watch after 2 s, so it
 * is closed by the server many times, and to list everything again every 3 s; nothing may be
 * lost and nothing submitted twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { watchCollection } from '../../functions/cli/watch-loop.js';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { connectKubeApi } from '../../functions/kube/api.js';
import { listPage } from '../../functions/kube/objects.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { writeKubeconfig } from '../harness/kubeconfig.js';
import { waitFor } from '../harness/wait.js';
import { memoryLogger } from '../fakes/in-memory-cluster.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { FUNCTION_RULES, annotationsOf, buildObject, completeStatus, createWithStatus, prepareNamespace, readObject } from './cluster.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NS = 'e2e-cli';

interface Cli {
  readonly lines: string[];
  readonly stdout: string[];
  readonly exited: Promise<number | null>;
  count(pattern: RegExp): number;
  waitForLines(pattern: RegExp, count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<number | null>;
  readonly process: ChildProcess;
}

function startCli(args: readonly string[], env: Readonly<Record<string, string>>): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'functions/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stdout: string[] = [];
  for (const [stream, into] of [[child.stderr, lines], [child.stdout, stdout]] as const) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      into.push(...parts);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const count = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).length;
  return {
    lines,
    stdout,
    exited,
    process: child,
    count,
    async waitForLines(pattern, wanted, timeoutMs = 60_000) {
      await waitFor(async () => (count(pattern) >= wanted ? true : undefined), {
        what: `${wanted} CLI lines matching ${pattern}`,
        timeoutMs,
        onTimeout: () => lines.slice(-30).join('\n'),
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe('the build-watcher command line against the real API server', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let proxy: TcpProxy;
  let dir: string;
  let kubeconfig: string;
  let watch: Cli | undefined;
  const images = new Map<string, PushedImage>();

  const build = (name: string) => buildObject(NS, name, `${registry.host}/${NS}/${name}:latest`);
  async function finishedBuild(name: string): Promise<void> {
    const image = await pushTestImage(registry, { repository: `${NS}/${name}`, tag: 'latest', layerSizes: [256] });
    images.set(name, image);
    const reference = `${registry.host}/${NS}/${name}:latest`;
    await createWithStatus(cp, build(name), completeStatus(reference, image.digest));
    cp.setBuildLog(NS, name, `log of ${name}\n`);
  }
  /**
   * Cutting the connection between a submission and its mark costs one resubmission, which
   * Thoth answers from its cache; that window is not what these tests are about, so they cut
   * only once the last Build is marked.
   */
  const marked = (name: string) =>
    waitFor(async () => (annotationsOf(await readObject(cp, build(name)))[ANNOTATIONS.submittedAt] !== undefined ? true : undefined), {
      what: `Build ${name} to be marked`,
      timeoutMs: 30_000,
    });
  const submittedImage = (name: string) => `${registry.host}/${NS}/${name}@${images.get(name)?.digest ?? ''}`;
  const submittedOutputs = () => thoth.submissions.map((submission) => submission.body?.output_image);

  before(async () => {
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    await prepareNamespace(cp, NS, { watcher: FUNCTION_RULES });
    proxy = await startTcpProxy(cp.server);
    dir = await mkdtemp(path.join(tmpdir(), 'bw-cli-e2e-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, { server: proxy.url, caPem: cp.caPem, token: await cp.tokenForServiceAccount(NS, 'watcher'), user: 'watcher' });
  });

  after(async () => {
    await watch?.stop();
    await proxy?.close();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('watch: catches up on a Build that finished before it started, then submits new ones', async () => {
    await finishedBuild('before');
    watch = startCli(['watch', '-n', NS, '-a', thoth.url, '--watch-timeout', '2', '--resync-minutes', '0.05', '--verbose'], { KUBECONFIG: kubeconfig });
    await thoth.awaitSubmissions(1, 60_000);
    assert.deepEqual(submittedOutputs(), [submittedImage('before')]);
    await finishedBuild('live');
    await thoth.awaitSubmissions(2, 30_000);
    assert.equal(submittedOutputs()[1], submittedImage('live'));
    await marked('live');
  });

  it('watch: resumes where the server ended the watch, losing nothing', async () => {
    const cli = watch!;
    const ended = /the server ended the watch of Build/;
    await cli.waitForLines(ended, cli.count(ended) + 2);
    await finishedBuild('after-timeout');
    await thoth.awaitSubmissions(3, 30_000);
    assert.equal(submittedOutputs()[2], submittedImage('after-timeout'));
    await marked('after-timeout');
  });

  it('watch: survives a cut connection and an outage; a Build finished meanwhile is submitted once back', async () => {
    const cli = watch!;
    const interrupted = /watch of Build in e2e-cli interrupted/;
    const before = cli.count(interrupted);
    proxy.pause();
    proxy.sever();
    await cli.waitForLines(interrupted, before + 1);
    await finishedBuild('during-outage');
    assert.equal(thoth.submissions.length, 3, 'nothing can reach the API server during the outage');
    proxy.resume();
    await thoth.awaitSubmissions(4, 60_000);
    assert.equal(submittedOutputs()[3], submittedImage('during-outage'));
  });

  it('watch: never submits a Build twice, through marks, replays and many reconnections', async () => {
    const cli = watch!;
    const names = ['before', 'live', 'after-timeout', 'during-outage'];
    for (const name of names) await marked(name);
    // Two more watch cycles after the last mark: every event there is to see has been seen.
    const ended = /the server ended the watch of Build/;
    await cli.waitForLines(ended, cli.count(ended) + 2);
    proxy.sever();
    await cli.waitForLines(ended, cli.count(ended) + 1);
    assert.deepEqual([...submittedOutputs()].sort(), names.map(submittedImage).sort());
    assert.ok(cli.count(/resync: listing Build in e2e-cli again/) >= 1, 'resynced, and resubmitted nothing for it');
    assert.equal(cli.count(/"level":"error"/), 0, cli.lines.filter((line) => line.includes('"error"')).join('\n'));
    assert.equal(await cli.stop(), 0, 'SIGTERM stops it cleanly');
    watch = undefined;
  });

  it('the watch loop lists again when its resourceVersion is too old for the API server', async () => {
    const admin = cp.adminKubeconfigPath;
    const api = await connectKubeApi({ kubeconfigPath: admin });
    const streaming = await connectKubeApi({ kubeconfigPath: admin });
    const lister = { page: (collection: Parameters<typeof listPage>[1], options: Parameters<typeof listPage>[2]) => listPage(api, collection, options) };
    const stop = new AbortController();
    const seen: string[] = [];
    const log = memoryLogger();
    const loop = watchCollection(
      lister,
      streaming,
      { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS },
      (object, _action, origin) => {
        seen.push(`${origin}:${object.name}`);
        if (origin === 'list' && seen.filter((entry) => entry.startsWith('list:')).length === 4) stop.abort();
      },
      log,
      { signal: stop.signal, timeoutSeconds: () => 5, resourceVersion: '1' },
    );
    await waitFor(async () => (stop.signal.aborted ? true : undefined), { what: 'a relist', timeoutMs: 30_000, onTimeout: () => JSON.stringify(log.lines) });
    await loop;
    assert.ok(log.lines.some((line) => /too old; listing again/.test(line.message)), JSON.stringify(log.lines));
  });

  it('analyze-existing: submits what is there once, reports, and exits non-zero on refusals', async () => {
    await watch?.stop();
    watch = undefined;
    await finishedBuild('existing');
    const env = { KUBECONFIG: kubeconfig };
    const first = startCli(['analyze-existing', '-n', NS, '-a', thoth.url], env);
    assert.equal(await first.exited, 0, first.lines.join('\n'));
    assert.match(first.stdout.join('\n'), /sweep: 1 submitted, 0 refused, 0 failed/);
    assert.equal(submittedOutputs().at(-1), submittedImage('existing'));
    const count = thoth.submissions.length;

    const again = startCli(['analyze-existing', '-n', NS, '-a', thoth.url], env);
    assert.equal(await again.exited, 0);
    assert.match(again.stdout.join('\n'), /sweep: 0 submitted/);
    assert.equal(thoth.submissions.length, count);

    // A Build whose image was never pushed: Thoth cannot inspect it and refuses.
    const reference = `${registry.host}/${NS}/missing:latest`;
    await createWithStatus(cp, buildObject(NS, 'missing', reference), completeStatus(reference, `sha256:${'0'.repeat(64)}`));
    const refused = startCli(['analyze-existing', '-n', NS, '-a', thoth.url, '--no-build-log'], env);
    assert.equal(await refused.exited, 1, refused.lines.join('\n'));
    assert.match(refused.stdout.join('\n'), /0 submitted, 1 refused/);
    assert.ok(annotationsOf(await readObject(cp, buildObject(NS, 'missing', '')))[ANNOTATIONS.sweepRefusedAt]);
  });
  it('watch with one worker and BUILD_WATCHER_QUEUE_LIMIT=0: a catch-up of several Builds takes turns, none turned away', async () => {
    // No sender waits on the command line's objects: they queue as background work, which the queue limit does not bound.
    const names = ['turns-0', 'turns-1', 'turns-2', 'turns-3'];
    for (const name of names) await finishedBuild(name);
    const count = thoth.submissions.length;
    const cli = startCli(['watch', '-n', NS, '-a', thoth.url, '--workers-count', '1', '--verbose'], { KUBECONFIG: kubeconfig, BUILD_WATCHER_QUEUE_LIMIT: '0' });
    try {
      for (const name of names) await marked(name);
      assert.deepEqual(submittedOutputs().slice(count).sort(), names.map(submittedImage).sort());
      assert.equal(cli.count(/workers are busy|no worker/), 0, cli.lines.join('\n'));
    } finally {
      await cli.stop();
    }
  });

  it('watch --pass-token: the file holding the token is gone even when a second Ctrl-C cuts the shutdown short', async () => {
    // A Thoth that never answers keeps a submission in progress, so the first SIGINT waits for it.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const temp = path.join(dir, 'tmp');
    await mkdir(temp);
    // tsx keeps its cache in TMPDIR as well.
    const tokenDirs = async () => (await readdir(temp)).filter((name) => name.startsWith('build-watcher-'));
    let cli: Cli | undefined;
    try {
      await finishedBuild('token-file');
      cli = startCli(['watch', '-n', NS, '-a', `http://127.0.0.1:${port}`, '--pass-token'], { KUBECONFIG: kubeconfig, TMPDIR: temp });
      const running = cli;
      await waitFor(async () => ((await tokenDirs()).length > 0 ? true : undefined), { what: 'the token file', timeoutMs: 30_000, onTimeout: () => running.lines.join('\n') });
      await waitFor(async () => (sockets.size > 0 ? true : undefined), { what: 'a submission to Thoth', timeoutMs: 30_000, onTimeout: () => running.lines.join('\n') });
      cli.process.kill('SIGINT');
      await cli.waitForLines(/finishing the objects in progress/, 1);
      cli.process.kill('SIGINT');
      assert.equal(await cli.exited, 130, cli.lines.join('\n'));
      assert.deepEqual(await tokenDirs(), [], 'no token left on disk');
    } finally {
      await cli?.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
