/**
 * The monitoring shipped in knative/optional/observability/: the PrometheusRule's rules pass
 * `promtool check rules` and behave as the README's alert table says (`promtool test rules`,
 * alerts.promtest.yaml), and every metric a rule or a dashboard panel reads is one the running
 * function exports on /metrics (scraped from faas-js-runtime, not read from our source).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startFunction, type RunningFunction } from '../function/run-function.js';
import { isRecord } from '../../functions/kube/object.js';
import { REPO_ROOT, field, parseYamlStream } from '../manifests/manifests.js';
import { histogramBase, metricNames } from './promql.js';

const DIR = join(REPO_ROOT, 'knative/optional/observability');
/** Not the function's: Prometheus' own per-target series (1 when the scrape succeeded). */
const PROMETHEUS_OWN = new Set(['up']);

function ruleGroups(): unknown {
  const [rule] = parseYamlStream(readFileSync(join(DIR, 'prometheusrule.yaml'), 'utf8'), 'prometheusrule.yaml');
  return field(rule, 'spec', 'groups');
}

function ruleExpressions(): string[] {
  const groups = ruleGroups();
  assert.ok(Array.isArray(groups));
  return groups.flatMap((g) => {
    const rules = field(g, 'rules');
    return Array.isArray(rules) ? rules.map((r) => String(field(r, 'expr'))) : [];
  });
}

function panelExpressions(): string[] {
  const dashboard: unknown = JSON.parse(readFileSync(join(DIR, 'dashboards/build-watcher.json'), 'utf8'));
  const panels = field(dashboard, 'panels');
  assert.ok(Array.isArray(panels));
  const exprs = panels.flatMap((p) => {
    const targets = field(p, 'targets');
    return Array.isArray(targets) ? targets.map((t) => String(field(t, 'expr'))) : [];
  });
  const variables = field(dashboard, 'templating', 'list');
  if (Array.isArray(variables)) {
    for (const v of variables) {
      const query = field(v, 'query', 'query');
      const inner = typeof query === 'string' ? /label_values\(([^,)]+)/.exec(query)?.[1] : undefined;
      if (inner !== undefined) exprs.push(inner);
    }
  }
  return exprs;
}

async function promtool(args: readonly string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('promtool', args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('alert rules (promtool)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'build-watcher-rules-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('pass promtool check rules, and a broken expression would not', async () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups() }));
    const checked = await promtool(['check', 'rules', 'rules.yaml'], dir);
    assert.equal(checked.code, 0, checked.output);
    assert.match(checked.output, /SUCCESS: 4 rules found/);
    writeFileSync(join(dir, 'broken.yaml'), stringify({ groups: [{ name: 'x', rules: [{ alert: 'X', expr: 'sum by (a (b)' }] }] }));
    assert.notEqual((await promtool(['check', 'rules', 'broken.yaml'], dir)).code, 0);
  });

  it('fire, and stay quiet, as alerts.promtest.yaml expects', async () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups() }));
    copyFileSync(join(REPO_ROOT, 'test/observability/alerts.promtest.yaml'), join(dir, 'alerts.promtest.yaml'));
    const tested = await promtool(['test', 'rules', 'alerts.promtest.yaml'], dir);
    assert.equal(tested.code, 0, tested.output);
    assert.match(tested.output, /SUCCESS/);
  });

  it('name each alert in the README with its threshold and runbook', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const groups = ruleGroups();
    assert.ok(Array.isArray(groups));
    for (const group of groups) {
      const rules = field(group, 'rules');
      assert.ok(Array.isArray(rules));
      for (const rule of rules) {
        const alert = String(field(rule, 'alert'));
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${alert}\``));
        assert.ok(row, `${alert} has a row in the README's alert table`);
        assert.ok(isRecord(field(rule, 'annotations')) && typeof field(rule, 'annotations', 'runbook') === 'string', `${alert} has a runbook`);
      }
    }
  });
});

describe('metrics read by the rules and the dashboard', () => {
  let fn: RunningFunction | undefined;
  before(async () => {
    // Nothing is sent to Thoth or a cluster: the function only has to start and serve /metrics.
    fn = await startFunction({ env: { THOTH_USER_API_HOST: 'http://127.0.0.1:9', BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1' } });
  });
  after(async () => {
    await fn?.stop();
  });

  it('finds metric names in PromQL', () => {
    assert.deepEqual(metricNames('sum by (le, endpoint) (rate(a_bucket{x="y", z=~"b|c"}[5m])) > 0 unless on (namespace) max(up{job="j"}) == bool 0'), ['a_bucket', 'up']);
    assert.equal(histogramBase('a_seconds_bucket'), 'a_seconds');
  });

  it('are all exported by the running function, histograms as histograms', async () => {
    assert.ok(fn);
    const text = await (await fetch(`${fn.url}/metrics`)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name = '', type = '']) => [name, type]));
    assert.ok(types.has('build_watcher_events_received_total'), 'our metrics are on the runtime\'s /metrics');
    const read = new Set([...ruleExpressions(), ...panelExpressions()].flatMap(metricNames));
    assert.ok(read.size >= 8, [...read].join(', '));
    for (const name of read) {
      if (PROMETHEUS_OWN.has(name)) continue;
      const base = histogramBase(name);
      if (base !== undefined && types.get(base) === 'histogram') continue;
      assert.ok(types.has(name), `${name} is read by a rule or panel but not exported`);
      assert.notEqual(types.get(name), 'histogram', `${name}: a histogram is read through _bucket, _sum or _count`);
    }
  });
});
