// A real Prometheus for the monitoring tests: Debian's `prometheus` package (2.42, with
// promtool), started on a loopback port with a temp config and data directory. Binaries come
// from $PHIGATE_PROMETHEUS / $PHIGATE_PROMTOOL, else PATH; a clear error, never a skip, when
// they are missing (.ci/run installs the package).
// Also: PromQL metric-name extraction, the names a /metrics text declares, and condensed
// Prometheus Operator CRDs for server-side dry runs of the chart's ServiceMonitor and
// PrometheusRule.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, sleep } from './controlplane.ts';

export class PrometheusUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'PrometheusUnavailable'; }
}

const INSTALL_HINT = 'install Debian\'s prometheus package (apt-get update && apt-get install -y prometheus; .ci/run does this), ' +
  'or set PHIGATE_PROMETHEUS and PHIGATE_PROMTOOL to a Prometheus 2.x server and its promtool';

function locate(env: string, name: string): string {
  const set = process.env[env];
  const bin = set || name;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new PrometheusUnavailable(`${set ? `${env}=${set}` : `${name} (on PATH)`} cannot be run (${r.error?.message ?? `exit ${r.status}`}): ${INSTALL_HINT}`);
  }
  const text = `${r.stdout}${r.stderr}`;
  if (!/version 2\.\d+/.test(text)) throw new PrometheusUnavailable(`${bin} is not Prometheus 2.x (${text.split('\n')[0]}): ${INSTALL_HINT}`);
  return bin;
}

export interface PrometheusBinaries { prometheus: string; promtool: string; version: string }

export function prometheusBinaries(): PrometheusBinaries {
  const prometheus = locate('PHIGATE_PROMETHEUS', 'prometheus');
  const promtool = locate('PHIGATE_PROMTOOL', 'promtool');
  const version = /version (\S+)/.exec(spawnSync(prometheus, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';
  return { prometheus, promtool, version };
}

export interface ToolResult { status: number | null; stdout: string; stderr: string }

/** Run promtool without blocking the event loop. */
export function promtool(bin: string, args: string[], input?: string, cwd?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => { stdout += d; });
    p.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', (e) => { clearTimeout(timer); resolve({ status: -1, stdout, stderr: `${stderr}${e.message}` }); });
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    p.stdin!.end(input ?? '');
  });
}

export interface ScrapeJob { job: string; target: string; labels?: Record<string, string> }

export interface RunningPrometheus {
  url: string;
  dir: string;
  /** Instant query; returns the result vector (throws on an API error). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Poll a query until `ok` holds for its result. */
  waitFor(expr: string, ok: (r: Array<{ metric: Record<string, string>; value: [number, string] }>) => boolean, timeoutMs?: number): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  api(path: string): Promise<any>;
  logs(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => { for (const p of running) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

/** Start Prometheus scraping `jobs` every second and evaluating `rules` (a rule-file text) every second. */
export async function startPrometheus(bins: PrometheusBinaries, jobs: ScrapeJob[], rules?: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'phigate-prometheus-'));
  if (rules) writeFileSync(join(dir, 'rules.yaml'), rules);
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    ...(rules ? { rule_files: [join(dir, 'rules.yaml')] } : {}),
    scrape_configs: jobs.map((j) => ({ job_name: j.job, static_configs: [{ targets: [j.target], labels: j.labels ?? {} }] })),
  }));
  const port = await freePort();
  const out: string[] = [];
  const proc = spawn(bins.prometheus, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    // Debian's build looks for consoles under /etc/prometheus; none are needed.
    `--web.console.templates=${dir}`, `--web.console.libraries=${dir}`,
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  const keep = (d: Buffer) => { out.push(d.toString()); if (out.length > 300) out.splice(0, 100); };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const logs = () => out.join('').slice(-4000);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => { proc.kill('SIGKILL'); return exited; })]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) { const l = logs(); await stop(); throw new Error(`prometheus exited during start-up (${proc.exitCode}):\n${l}`); }
    try { if ((await fetch(`${url}/-/ready`)).ok) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) { const l = logs(); await stop(); throw new Error(`prometheus was not ready within 30 s:\n${l}`); }
    await sleep(200);
  }
  const api = async (path: string) => {
    const r = await fetch(`${url}${path}`);
    const body = await r.json() as any;
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const query: RunningPrometheus['query'] = async (expr) => {
    const data = await api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return data.result;
  };
  const waitFor: RunningPrometheus['waitFor'] = async (expr, ok, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    let last: unknown = [];
    for (;;) {
      try {
        const r = await query(expr);
        if (ok(r)) return r;
        last = r;
      } catch (e) { last = e; }
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}; last: ${JSON.stringify(last)}\n--- prometheus\n${logs()}`);
      await sleep(250);
    }
  };
  return { url, dir, query, waitFor, api, logs, stop };
}

// ---------------------------------------------------------------------------------------
// Metric names

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2', 'start', 'end']);

/** The metric names a PromQL expression (or a Grafana label_values query) selects: functions, keywords, labels, durations and Grafana variables left out. */
export function metricNamesInPromQL(expr: string): string[] {
  let e = expr
    // Grafana's label_values(selector, label) names a label as its second argument.
    .replace(/\blabel_values\s*\(([\s\S]*),\s*[a-zA-Z_]\w*\s*\)/g, '$1')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  e = e.replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of e.matchAll(/(?<![\w$.:])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w(])(?!\s*\()/g)) {
    if (!PROMQL_KEYWORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names].sort();
}

/** Every series name a Prometheus text exposition declares (# TYPE), with a histogram's and summary's suffixed series. */
export function declaredMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** The rule file (`groups:`) inside a rendered PrometheusRule. */
export function ruleFileOf(prometheusRule: any): string {
  return stringify({ groups: prometheusRule.spec.groups });
}

// ---------------------------------------------------------------------------------------
// Prometheus Operator CRDs, condensed from prometheus-operator v0.84's
// example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,prometheusrules}.yaml:
// the same group, names and types for the fields phigate's chart uses and the common ones
// beside them, so that `kubectl apply --dry-run=server` (strict field validation) rejects a
// misspelt or mistyped field in the chart's templates.

const DURATION = '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$';
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const labelSelector = {
  type: 'object',
  properties: {
    matchLabels: stringMap,
    matchExpressions: { type: 'array', items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } } } },
  },
};
const relabel = { type: 'array', items: { type: 'object', properties: {
  action: { type: 'string' }, modulus: { type: 'integer' }, regex: { type: 'string' }, replacement: { type: 'string' },
  separator: { type: 'string' }, sourceLabels: { type: 'array', items: { type: 'string' } }, targetLabel: { type: 'string' },
} } };
const secretKey = { type: 'object', required: ['key'], properties: { key: { type: 'string' }, name: { type: 'string' }, optional: { type: 'boolean' } } };

const crd = (plural: string, kind: string, spec: object) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), categories: ['prometheus-operator'] },
    scope: 'Namespaced',
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', required: ['spec'], properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec } } } }],
  },
});

export function prometheusOperatorCrds(): string {
  const serviceMonitor = crd('servicemonitors', 'ServiceMonitor', {
    type: 'object',
    required: ['endpoints', 'selector'],
    properties: {
      endpoints: { type: 'array', items: { type: 'object', properties: {
        port: { type: 'string' },
        targetPort: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
        path: { type: 'string' },
        scheme: { type: 'string', enum: ['http', 'https', 'HTTP', 'HTTPS'] },
        interval: { type: 'string', pattern: DURATION },
        scrapeTimeout: { type: 'string', pattern: DURATION },
        honorLabels: { type: 'boolean' },
        honorTimestamps: { type: 'boolean' },
        params: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
        relabelings: relabel,
        metricRelabelings: relabel,
        bearerTokenSecret: secretKey,
        authorization: { type: 'object', properties: { credentials: secretKey, type: { type: 'string' } } },
        tlsConfig: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      } } },
      selector: labelSelector,
      namespaceSelector: { type: 'object', properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } } },
      jobLabel: { type: 'string' },
      targetLabels: { type: 'array', items: { type: 'string' } },
      podTargetLabels: { type: 'array', items: { type: 'string' } },
      sampleLimit: { type: 'integer' },
      targetLimit: { type: 'integer' },
    },
  });
  const prometheusRule = crd('prometheusrules', 'PrometheusRule', {
    type: 'object',
    properties: {
      groups: {
        type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
        items: { type: 'object', required: ['name'], properties: {
          name: { type: 'string', minLength: 1 },
          interval: { type: 'string', pattern: DURATION },
          limit: { type: 'integer' },
          labels: stringMap,
          partial_response_strategy: { type: 'string', pattern: '^(?i)(abort|warn)?$' },
          rules: { type: 'array', items: { type: 'object', required: ['expr'], properties: {
            alert: { type: 'string' },
            record: { type: 'string' },
            expr: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
            for: { type: 'string', pattern: DURATION },
            keep_firing_for: { type: 'string', minLength: 1, pattern: DURATION },
            labels: stringMap,
            annotations: stringMap,
          } } },
        } },
      },
    },
  });
  return [serviceMonitor, prometheusRule].map((o) => stringify(o)).join('---\n');
}
