/**
 * `npm run bench:copy`: our copier against `skopeo copy --all` between two loopback
 * docker-registry instances, on the same images in one run.
 * - fresh copy of a ~315 MB, 6-layer image (each trial into a freshly started registry);
 * - re-copy of that image when it is already there (ours must send no blob bytes);
 * - peak RSS (VmHWM) of our copier copying a 1 GiB image, in its own process.
 * Targets: time <= 0.8x skopeo's, re-copy no slower than skopeo's, peak RSS <= 96 MiB.
 * Both tools run as child processes, so process start-up is in both timings. The re-copy is
 * also timed in-process, warm, which is how the function calls the copier (the original
 * shelled out to skopeo for each copy): node's start-up (~50 ms with our modules) dwarfs it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { RunningRegistry } from '../registry/docker-registry.js';
import { copyImage } from '../../functions/registry/copy-image.js';
import type { CopyResult } from '../../functions/registry/copy-image.js';

const run = promisify(execFile);
const MB = 1_000_000;
const MiB = 1024 * 1024;
const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 3);

interface ChildOutput { result: CopyResult; maxRssBytes: number; ms: number }

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let childArgs: string[] = [];

/**
 * The child runs compiled JavaScript, as the function does: under tsx it would carry the
 * loader's own memory. Transpiling just the copier's files keeps the benchmark independent
 * of the rest of the project compiling.
 */
async function compileChild(outDir: string): Promise<string> {
  const registryDir = join(repoRoot, 'functions/registry');
  const sources = [
    ...(await readdir(registryDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('_test.ts')).map((f) => join(registryDir, f)),
    join(repoRoot, 'functions/errors.ts'),
    join(repoRoot, 'functions/concurrency.ts'),
    join(repoRoot, 'test/registry/copy-child.ts'),
  ];
  for (const file of sources) {
    const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    });
    const target = join(outDir, relative(repoRoot, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  return join(outDir, 'test/registry/copy-child.js');
}

async function ours(from: RunningRegistry, to: RunningRegistry, repository: string, target: string): Promise<ChildOutput & { wallMs: number }> {
  const input = {
    source: { registry: from.host, repository, tag: 'bench' },
    destination: { registry: to.host, repository: target, tag: 'bench' },
  };
  const started = performance.now();
  const { stdout } = await run(process.execPath, [...childArgs, JSON.stringify(input)], { maxBuffer: 1 << 20 });
  const wallMs = performance.now() - started;
  return { ...(JSON.parse(stdout) as ChildOutput), wallMs };
}

// GNU time reports skopeo's peak RSS; without it (package `time`), skopeo's RSS is not shown.
const gnuTime = existsSync('/usr/bin/time');

async function skopeo(from: RunningRegistry, to: RunningRegistry, repository: string, target: string): Promise<{ wallMs: number; maxRssBytes: number }> {
  const command = ['skopeo', 'copy', '--all', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false',
    `docker://${from.host}/${repository}:bench`, `docker://${to.host}/${target}:bench`];
  const started = performance.now();
  const { stderr } = gnuTime
    ? await run('/usr/bin/time', ['-f', 'maxrss=%M', ...command])
    : await run(command[0] ?? 'skopeo', command.slice(1));
  const wallMs = performance.now() - started;
  return { wallMs, maxRssBytes: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? Number.NaN) * 1024 };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const verdict = (ok: boolean): string => (ok ? 'OK' : 'MISSED');

async function main(): Promise<void> {
  const compiled = await mkdtemp(join(tmpdir(), 'bw-bench-copy-'));
  childArgs = [await compileChild(compiled)];
  const source = await startRegistry();
  const registries: RunningRegistry[] = [source];
  try {
    console.log('pushing a 6-layer ~315 MB image and an 8-layer 1 GiB image to the source registry...');
    const image = await pushTestImage(source, { repository: 'bench/app', tag: 'bench', layerSizes: [100 * MB, 80 * MB, 60 * MB, 40 * MB, 20 * MB, 15 * MB] });
    const big = await pushTestImage(source, { repository: 'bench/big', tag: 'bench', layerSizes: Array.from({ length: 8 }, () => 128 * MiB) });
    console.log(`image: ${(image.blobBytes / MB).toFixed(0)} MB in ${image.blobDigests.length} blobs; big: ${(big.blobBytes / MiB).toFixed(0)} MiB`);

    const oursFresh: number[] = [];
    const oursInside: number[] = [];
    const skopeoFresh: number[] = [];
    const oursRecopy: number[] = [];
    const oursRecopyInProcess: number[] = [];
    const skopeoRecopy: number[] = [];
    let recopyBytes = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      // A fresh destination registry per trial and tool: nothing cached, nothing to skip.
      const [forOurs, forSkopeo] = await Promise.all([startRegistry(), startRegistry()]);
      registries.push(forOurs, forSkopeo);
      const order = trial % 2 === 0 ? ['ours', 'skopeo'] : ['skopeo', 'ours'];
      for (const tool of order) {
        if (tool === 'ours') {
          const fresh = await ours(source, forOurs, 'bench/app', 'bench/app');
          if (fresh.result.digest !== image.digest || fresh.result.bytesSent !== image.blobBytes) throw new Error('our copy is not the image');
          oursFresh.push(fresh.wallMs);
          oursInside.push(fresh.ms);
        } else {
          skopeoFresh.push((await skopeo(source, forSkopeo, 'bench/app', 'bench/app')).wallMs);
        }
      }
      for (const tool of order) {
        if (tool === 'ours') {
          const again = await ours(source, forOurs, 'bench/app', 'bench/app');
          recopyBytes += again.result.bytesSent;
          oursRecopy.push(again.wallMs);
          const request = {
            source: { registry: source.host, repository: 'bench/app', tag: 'bench' },
            destination: { registry: forOurs.host, repository: 'bench/app', tag: 'bench' },
          };
          if (trial === 0) await copyImage(request);
          const started = performance.now();
          recopyBytes += (await copyImage(request)).bytesSent;
          oursRecopyInProcess.push(performance.now() - started);
        } else {
          skopeoRecopy.push((await skopeo(source, forSkopeo, 'bench/app', 'bench/app')).wallMs);
        }
      }
      await Promise.all([forOurs.stop(), forSkopeo.stop()]);
    }

    const bigTarget = await startRegistry();
    registries.push(bigTarget);
    const bigCopy = await ours(source, bigTarget, 'bench/big', 'bench/big');
    if (bigCopy.result.digest !== big.digest) throw new Error('big copy is not the image');
    const skopeoBigTarget = await startRegistry();
    registries.push(skopeoBigTarget);
    const skopeoBig = await skopeo(source, skopeoBigTarget, 'bench/big', 'bench/big');

    const fresh = median(oursFresh) / median(skopeoFresh);
    const recopy = median(oursRecopy) / median(skopeoRecopy);
    const recopyInProcess = median(oursRecopyInProcess) / median(skopeoRecopy);
    const rss = bigCopy.maxRssBytes / MiB;
    console.log(`\n${TRIALS} trials, medians (wall time, process start included):`);
    console.log(`fresh copy ~315 MB: ours ${fmt(median(oursFresh))} (copy itself ${fmt(median(oursInside))}), skopeo ${fmt(median(skopeoFresh))}`
      + ` -> ratio ${fresh.toFixed(2)} (target <= 0.80) ${verdict(fresh <= 0.8)}`);
    console.log(`re-copy:            ours in-process ${fmt(median(oursRecopyInProcess))}, skopeo ${fmt(median(skopeoRecopy))}`
      + ` -> ratio ${recopyInProcess.toFixed(2)} (target <= 1.00) ${verdict(recopyInProcess <= 1)}; our blob bytes sent: ${recopyBytes} ${verdict(recopyBytes === 0)}`);
    console.log(`  as a new process:  ours ${fmt(median(oursRecopy))} -> ratio ${recopy.toFixed(2)} ${verdict(recopy <= 1)} (node start-up included)`);
    console.log(`1 GiB image:        ours peak RSS ${rss.toFixed(1)} MiB in ${fmt(bigCopy.wallMs)} (target <= 96 MiB) ${verdict(rss <= 96)};`
      + ` skopeo ${(skopeoBig.maxRssBytes / MiB).toFixed(1)} MiB in ${fmt(skopeoBig.wallMs)}`);
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(compiled, { recursive: true, force: true });
  }
}

await main();
