/**
 * The shape of functions/, measured from the code's own imports: no module reaches itself again
 * through the modules it imports, and no module grows past SIZE_LIMIT lines without saying why.
 *
 * Every relative specifier counts, as TypeScript's own scanner finds it: `import`, `import type`,
 * `export … from` and `import()`. A type-only import is erased at run time, yet the importer
 * still cannot be understood without the imported: a circle is a circle. A lazy `import()` only
 * defers loading (for cold starts), not the dependency.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const FUNCTIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../functions');
const SIZE_LIMIT = 250;
/** A line of its own, `// size: <why>`, lets a module stay whole past the limit. */
const SIZE_REASON = /^\s*\/\/ size: \S/m;
/** Enough to act on; past it, the graph needs more than a list. */
const MAX_CYCLES = 100;

type Graph = ReadonlyMap<string, readonly string[]>;

/** Non-test modules, as paths relative to functions/ with forward slashes. */
const modules: readonly string[] = readdirSync(FUNCTIONS, { recursive: true, encoding: 'utf8' })
  .map((file) => file.split(path.sep).join('/'))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('_test.ts'))
  .sort();
const text = new Map(modules.map((file) => [file, readFileSync(path.join(FUNCTIONS, file), 'utf8')]));

/** Module → the modules it imports; specifiers that name no module are returned apart. */
function importGraph(): { graph: Graph; unresolved: string[] } {
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of modules) {
    const specifiers = ts.preProcessFile(text.get(file) ?? '', true, true).importedFiles.map((imported) => imported.fileName);
    const targets = new Set<string>();
    for (const specifier of specifiers.filter((name) => name.startsWith('.'))) {
      const target = path.posix.join(path.posix.dirname(file), specifier).replace(/\.js$/, '.ts');
      if (text.has(target)) targets.add(target);
      else unresolved.push(`${file}: ${specifier}`);
    }
    graph.set(file, [...targets].sort());
  }
  return { graph, unresolved };
}

/** Tarjan's strongly connected components: every cycle lies within one of them. */
function components(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) visit(next);
      if (stack.includes(next)) low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
    }
    if (low.get(node) !== index.get(node)) return;
    const component = stack.splice(stack.indexOf(node));
    found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Every elementary cycle, once, from its least node; at most MAX_CYCLES. */
function cycles(graph: Graph): string[][] {
  const found: string[][] = [];
  for (const component of components(graph)) {
    for (const [at, start] of component.entries()) {
      const allowed = new Set(component.slice(at + 1));
      const walk = (node: string, trail: string[]): void => {
        for (const next of graph.get(node) ?? []) {
          if (found.length >= MAX_CYCLES) return;
          if (next === start) found.push([...trail, start]);
          else if (allowed.has(next) && !trail.includes(next)) walk(next, [...trail, next]);
        }
      };
      walk(start, [start]);
    }
  }
  return found;
}

/** The graph between units: `unitOf` names each module's unit; edges inside a unit drop out. */
function coarsen(graph: Graph, unitOf: (file: string) => string): Graph {
  const coarse = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = coarse.get(unitOf(file)) ?? new Set<string>();
    coarse.set(unitOf(file), from);
    for (const target of targets) if (unitOf(target) !== unitOf(file)) from.add(unitOf(target));
  }
  return new Map([...coarse].map(([unit, targets]) => [unit, [...targets].sort()]));
}

const folderOf = (file: string): string => path.posix.dirname(file);
/**
 * A module at the root of functions/ is a unit of its own. The root holds the three wiring
 * modules, which import every folder, beside a few leaves that every folder imports (errors.ts,
 * retry.ts…): taken as one folder, it would close a cycle with every folder and hide the rest.
 */
const unitOf = (file: string): string => (folderOf(file) === '.' ? file : folderOf(file));
const lines = (source: string): number => source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
const show = (cycle: readonly string[]): string => cycle.join(' → ');

describe('the import graph of functions/', () => {
  const { graph, unresolved } = importGraph();

  it('finds every cycle of a small graph, each once', () => {
    const small = new Map([['a', ['b']], ['b', ['a', 'c']], ['c', ['a', 'c']], ['d', ['a']]]);
    assert.deepEqual(cycles(small).map(show), ['a → b → a', 'a → b → c → a', 'c → c']);
  });

  it('resolves every relative import to a non-test module under functions/', () => {
    assert.ok(modules.length > 50, `found ${modules.length} modules`);
    assert.deepEqual(unresolved, [], `imports that name no module under functions/:\n${unresolved.join('\n')}`);
  });

  it('has no cycle: no module reaches itself again through its imports, type-only ones included', (t) => {
    const found = cycles(graph);
    t.diagnostic(`${modules.length} modules, ${[...graph.values()].reduce((sum, targets) => sum + targets.length, 0)} imports, ${found.length} cycles`);
    assert.deepEqual(found.map(show), [], `import cycles:\n${found.map(show).join('\n')}`);
  });

  it('between folders: reports the folders that reach themselves again (a diagnostic for now)', (t) => {
    const found = cycles(coarsen(graph, unitOf));
    t.diagnostic(`${found.length} folder cycles (root modules as units of their own)${found.map((cycle) => `\n  ${show(cycle)}`).join('')}`);
    const rootLeaves = modules.filter((file) => folderOf(file) === '.' && modules.some((from) => folderOf(from) !== '.' && graph.get(from)?.includes(file)));
    t.diagnostic(`the root taken as one folder closes a cycle with every folder that imports one of: ${rootLeaves.join(', ')}`);
  });

  it(`keeps every module within ${SIZE_LIMIT} lines, or says why on a \`// size:\` line`, (t) => {
    const long = modules.filter((file) => lines(text.get(file) ?? '') > SIZE_LIMIT);
    const unexplained = long.filter((file) => !SIZE_REASON.test(text.get(file) ?? ''));
    const total = modules.reduce((sum, file) => sum + lines(text.get(file) ?? ''), 0);
    t.diagnostic(`${modules.length} modules, ${total} lines; ${long.length} past ${SIZE_LIMIT}: ${long.map((file) => `${file} (${lines(text.get(file) ?? '')})`).join(', ')}`);
    assert.deepEqual(unexplained, [], `past ${SIZE_LIMIT} lines with no \`// size:\` reason`);
  });
});
