/**
 * `npm run bench:copy`: our copier against `crane copy`, `regctl image copy` and
 * `skopeo copy --all --preserve-digests`, on the same images between loopback docker-registry
 * instances, in one run. Every tool runs as a child process (start-up included), interleaved:
 * each trial rotates the tools' order, and each tool copies into a registry of its own started
 * for that trial. Cases:
 * - fresh copies: 6 layers (315 MB), one 1 GiB layer, an index of 3 platforms (90 MB),
 *   60 layers of 100 kB;
 * - a cross-repository mount within one registry;
 * - a re-copy with everything present (ours in-process, warm, as the function calls it).
 * It prints medians of wall time, CPU seconds and peak RSS, ours against the faster of crane
 * and regctl, and our copy's own time without node's start-up; it checks that every copy left the source's digests at the destination,
 * index children included. A benchmark prints: it asserts nothing about speed.
 * Env: BENCH_TRIALS (default 5), BENCH_COPY_SCALE (default 1, multiplies every size),
 * BENCH_COPY_CASES (comma-separated case names, default all).
 */
import { loadavg } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage } from '../../functions/registry/copy-image.js';
import { pushTestImage, startRegistry, TestRegistryClient } from '../registry/docker-registry.js';
import type { PushedImage, RunningRegistry } from '../registry/docker-registry.js';
import { compileCopyChild, installCopyTools, runTool, TOOLS } from './copy-tools.js';
import type { Measured, Tool, ToolPaths } from './copy-tools.js';

const MB = 1_000_000;
const MiB = 1024 * 1024;
const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 5);
const SCALE = Number(process.env['BENCH_COPY_SCALE'] ?? 1);
const size = (bytes: number): number => Math.max(1, Math.round(bytes * SCALE));

interface FreshCase {
  readonly name: string;
  readonly label: string;
  readonly layerSizes: readonly number[];
  readonly platforms?: readonly string[];
}

const FRESH: readonly FreshCase[] = [
  { name: 'six', label: 'fresh copy, 6 layers, 315 MB', layerSizes: [100, 80, 60, 40, 20, 15].map((mb) => size(mb * MB)) },
  { name: 'big', label: 'fresh copy, 1 GiB, 1 layer', layerSizes: [size(1024 * MiB)] },
  { name: 'index', label: 'index, 3 platforms, 90 MB', layerSizes: [size(30 * MB)], platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/s390x'] },
  { name: 'many', label: '60 layers x 100 kB', layerSizes: Array.from({ length: 60 }, () => size(100_000)) },
];
const WANTED = new Set((process.env['BENCH_COPY_CASES'] ?? 'six,big,index,many,mount,recopy').split(',').map((s) => s.trim()));

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** The destination holds the source's digest under the tag, and each index child by digest. */
async function checkDigests(to: RunningRegistry, repository: string, image: PushedImage, who: string): Promise<void> {
  const client = new TestRegistryClient(to);
  const top = await client.getManifest(repository, image.tag);
  if (top?.digest !== image.digest) throw new Error(`${who}: destination digest ${top?.digest ?? 'missing'}, source ${image.digest}`);
  for (const child of image.childManifestDigests) {
    if ((await client.getManifest(repository, child))?.digest !== child) throw new Error(`${who}: index child ${child} missing or changed`);
  }
}

type Samples = Map<string, Map<Tool, Measured[]>>;

function record(samples: Samples, caseName: string, tool: Tool, measured: Measured): void {
  const byTool = samples.get(caseName) ?? new Map<Tool, Measured[]>();
  samples.set(caseName, byTool);
  byTool.set(tool, [...(byTool.get(tool) ?? []), measured]);
}

function report(samples: Samples, labels: ReadonlyMap<string, string>): void {
  const cell = (list: readonly Measured[] | undefined): string => {
    if (list === undefined || list.length === 0) return '-';
    const cpu = median(list.map((m) => m.cpuMs));
    const rss = median(list.map((m) => m.maxRssBytes));
    return `${(median(list.map((m) => m.wallMs)) / 1000).toFixed(3)} s, ${Number.isNaN(cpu) ? '-' : (cpu / 1000).toFixed(2)} s CPU, `
      + `${Number.isNaN(rss) ? '-' : (rss / MiB).toFixed(0)} MiB`;
  };
  console.log(`\n| case | ${TOOLS.join(' | ')} | ours / faster of crane, regctl | ours CPU / crane CPU | ours, the copy alone |`);
  console.log(`|---|${TOOLS.map(() => '---|').join('')}---|---|---|`);
  for (const [name, byTool] of samples) {
    const wall = (tool: Tool): number => median((byTool.get(tool) ?? []).map((m) => m.wallMs));
    const cpu = (tool: Tool): number => median((byTool.get(tool) ?? []).map((m) => m.cpuMs));
    const best = Math.min(wall('crane'), wall('regctl'));
    const ratio = Number.isNaN(best) ? '-' : (wall('ours') / best).toFixed(2);
    const cpuRatio = cpu('ours') / cpu('crane');
    const insideMs = median((byTool.get('ours') ?? []).flatMap((m) => (m.insideMs === undefined ? [] : [m.insideMs])));
    const inside = Number.isNaN(insideMs) ? '-' : `${(insideMs / 1000).toFixed(3)} s`;
    console.log(`| ${labels.get(name) ?? name} | ${TOOLS.map((t) => cell(byTool.get(t))).join(' | ')} | ${ratio} | `
      + `${Number.isFinite(cpuRatio) ? cpuRatio.toFixed(2) : '-'} | ${inside} |`);
  }
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'bw-bench-copy-'));
  const registries: RunningRegistry[] = [];
  const startedLoad = loadavg();
  try {
    const paths: ToolPaths = { copyChild: await compileCopyChild(scratch), toolsDir: await installCopyTools() };
    const source = await startRegistry();
    registries.push(source);
    const cases = FRESH.filter((c) => WANTED.has(c.name));
    const images = new Map<string, PushedImage>();
    for (const c of cases) {
      images.set(c.name, await pushTestImage(source, {
        repository: `bench/${c.name}`, tag: 'bench', layerSizes: c.layerSizes, ...(c.platforms === undefined ? {} : { platforms: c.platforms }),
      }));
    }
    const six = images.get('six') ?? await pushTestImage(source, { repository: 'bench/six', tag: 'bench', layerSizes: FRESH[0]?.layerSizes ?? [] });
    console.log(`scale ${SCALE}, ${TRIALS} trials; images: ${[...images].map(([n, i]) => `${n} ${(i.blobBytes / MB).toFixed(1)} MB`).join(', ')}`);

    const samples: Samples = new Map();
    const labels = new Map<string, string>([...FRESH.map((c) => [c.name, c.label] as const),
      ['mount', 'cross-repo mount, same registry'], ['recopy', 're-copy, all present (ours in-process)']]);
    let recopyBytes = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const order = TOOLS.map((_, i) => TOOLS[(i + trial) % TOOLS.length] as Tool);
      const targets = new Map<Tool, RunningRegistry>();
      for (const tool of TOOLS) {
        const target = await startRegistry();
        registries.push(target);
        targets.set(tool, target);
      }
      const targetOf = (tool: Tool): RunningRegistry => targets.get(tool) as RunningRegistry;
      for (const c of cases) {
        const image = images.get(c.name) as PushedImage;
        for (const tool of order) {
          const to = targetOf(tool);
          const job = { fromHost: source.host, fromRepository: image.repository, toHost: to.host, toRepository: image.repository, tag: 'bench' };
          record(samples, c.name, tool, await runTool(tool, job, paths));
          await checkDigests(to, image.repository, image, `${tool} ${c.name}`);
        }
      }
      if (WANTED.has('mount')) {
        for (const tool of order) {
          const repository = `mount/${tool}-${trial}`;
          const job = { fromHost: source.host, fromRepository: six.repository, toHost: source.host, toRepository: repository, tag: 'bench' };
          record(samples, 'mount', tool, await runTool(tool, job, paths));
          await checkDigests(source, repository, six, `${tool} mount`);
        }
      }
      if (WANTED.has('recopy')) {
        for (const tool of order) {
          const to = targetOf(tool);
          const job = { fromHost: source.host, fromRepository: six.repository, toHost: to.host, toRepository: six.repository, tag: 'bench' };
          if (!cases.some((c) => c.name === 'six')) await runTool(tool, job, paths);
          if (tool !== 'ours') {
            record(samples, 'recopy', tool, await runTool(tool, job, paths));
            continue;
          }
          record(samples, 'recopy-process', tool, await runTool(tool, job, paths));
          const request = {
            source: { registry: source.host, repository: six.repository, tag: 'bench' },
            destination: { registry: to.host, repository: six.repository, tag: 'bench' },
          };
          // Warm, as in the function: its first copy has loaded the modules and opened sockets.
          await copyImage(request);
          const cpu = process.cpuUsage();
          const started = performance.now();
          recopyBytes += (await copyImage(request)).bytesSent;
          const used = process.cpuUsage(cpu);
          record(samples, 'recopy', tool, { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, maxRssBytes: Number.NaN });
        }
      }
      await Promise.all([...targets.values()].map((r) => r.stop()));
    }
    labels.set('recopy-process', 're-copy, ours as a new process');
    report(samples, labels);
    const endedLoad = loadavg();
    console.log(`\nmedians of ${TRIALS}, interleaved; wall time includes process start-up; CPU = user + system; RSS = peak (VmHWM).`);
    console.log(`digests identical at the destination for every copy (index children included); our blob bytes on re-copies: ${recopyBytes}.`);
    console.log(`load average (1, 5, 15 min): at start ${startedLoad.map((l) => l.toFixed(2)).join(', ')}; at end ${endedLoad.map((l) => l.toFixed(2)).join(', ')} on 2 cores.`);
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
