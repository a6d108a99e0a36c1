/**
 * The copy tools `npm run bench:copy` runs side by side, each as a child process under GNU time
 * (wall time, CPU seconds, peak RSS): our copier (compiled JavaScript, as the function runs it),
 * `skopeo copy --all --preserve-digests`, `crane copy` and `regctl image copy`. crane and regctl
 * are installed at pinned versions by test/tools/copy-tools.sh.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const TOOLS = ['ours', 'skopeo', 'crane', 'regctl'] as const;
export type Tool = (typeof TOOLS)[number];

export interface Measured {
  readonly wallMs: number;
  /** Ours only: the copy alone, inside the process (start-up and module loading left out). */
  readonly insideMs?: number;
  readonly cpuMs: number;
  readonly maxRssBytes: number;
}

/** `host/repository:tag` on both sides. */
export interface CopyJob {
  readonly fromHost: string;
  readonly fromRepository: string;
  readonly toHost: string;
  readonly toRepository: string;
  readonly tag: string;
}

export interface ToolPaths {
  readonly copyChild: string;
  readonly toolsDir: string;
}

/**
 * The child runs compiled JavaScript, as the function does: under tsx it would carry the
 * loader's own memory. Transpiling just the copier's files keeps the benchmark independent
 * of the rest of the project compiling.
 */
export async function compileCopyChild(outDir: string): Promise<string> {
  const registryDir = join(repoRoot, 'functions/registry');
  const sources = [
    ...(await readdir(registryDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('_test.ts')).map((f) => join(registryDir, f)),
    join(repoRoot, 'functions/builtins.ts'),
    join(repoRoot, 'functions/errors.ts'),
    join(repoRoot, 'functions/concurrency.ts'),
    join(repoRoot, 'functions/retry.ts'),
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

/** Installs crane and regctl on first use (minutes on a cold Go cache) and returns their directory. */
export async function installCopyTools(): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'test/tools/copy-tools.sh')], { maxBuffer: 1 << 20 });
  return stdout.trim();
}

function command(tool: Tool, job: CopyJob, paths: ToolPaths): string[] {
  const from = `${job.fromHost}/${job.fromRepository}:${job.tag}`;
  const to = `${job.toHost}/${job.toRepository}:${job.tag}`;
  switch (tool) {
    case 'ours':
      return [process.execPath, paths.copyChild, JSON.stringify({
        source: { registry: job.fromHost, repository: job.fromRepository, tag: job.tag },
        destination: { registry: job.toHost, repository: job.toRepository, tag: job.tag },
      })];
    case 'skopeo':
      return ['skopeo', 'copy', '--all', '--preserve-digests', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false',
        `docker://${from}`, `docker://${to}`];
    case 'crane':
      return [join(paths.toolsDir, 'crane'), 'copy', '--insecure', from, to];
    case 'regctl':
      return [join(paths.toolsDir, 'regctl'), '--host', `reg=${job.fromHost},tls=disabled`, '--host', `reg=${job.toHost},tls=disabled`,
        'image', 'copy', from, to];
  }
}

/** One copy by one tool, timed from outside. */
export async function runTool(tool: Tool, job: CopyJob, paths: ToolPaths): Promise<Measured> {
  const [file, ...args] = command(tool, job, paths);
  const started = performance.now();
  const { stdout, stderr } = await run('/usr/bin/time', ['-f', 'bench-time %U %S %M', file ?? '', ...args], {
    maxBuffer: 1 << 20, env: { ...process.env, REGCTL_CONFIG: join(dirname(paths.copyChild), 'regctl.json') },
  });
  const wallMs = performance.now() - started;
  const match = /bench-time ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (match === null) throw new Error(`${tool}: no timing from /usr/bin/time: ${stderr.slice(-500)}`);
  const measured = { wallMs, cpuMs: (Number(match[1]) + Number(match[2])) * 1000, maxRssBytes: Number(match[3]) * 1024 };
  return tool === 'ours' ? { ...measured, insideMs: (JSON.parse(stdout) as { ms: number }).ms } : measured;
}
