// A real Prometheus (Debian's package) scrapes a running gateway (in-process, real DuckDB, on
// loopback) and a running `phigate controller` (a real process against the real
// kube-apiserver, reconciling a policy), and evaluates the chart's PrometheusRule: PromQL
// returns the expected series after traffic; the alerts load and evaluate, and the
// denial-spike alert goes pending under denial-heavy traffic; promtool checks the rules and
// unit-tests every alert; promtool checks both /metrics outputs; every metric an alert or a
// dashboard panel names is exported.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startControlPlane, sleep, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { ACCEPTANCE_POLICY, TOKENS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { installOperator, metricValue, startController, type ControllerProcess } from '../helpers/operator.ts';
import {
  declaredMetricNames, metricNamesInPromQL, prometheusBinaries, promtool, ruleFileOf, startPrometheus,
  type PrometheusBinaries, type RunningPrometheus,
} from '../helpers/prometheus.ts';

// The job names Prometheus gives the two targets, as the chart's ServiceMonitors would (a
// ServiceMonitor's job is its Service's name).
const GATEWAY_JOB = 'phigate-gateway';
const CONTROLLER_JOB = 'phigate-controller-metrics';

let bins: PrometheusBinaries;
let gw: TestGateway;
let cp: ControlPlane;
let ctl: ControllerProcess;
let prom: RunningPrometheus;
let prometheusRule: any;
let rules: string;
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'phigate.json'), 'utf8'));

const hostPort = (url: string) => new URL(url).host;
const sql = (statement: string, token: string | null = 'tok-a') => gw.post(token, { statement });

/** One round of traffic: two allowed/masked, two denied (different rules), one unauthenticated. */
async function traffic(): Promise<void> {
  const r = await Promise.all([
    sql('SELECT patient_id, ssn, dob FROM patients ORDER BY patient_id LIMIT 5'),
    sql('SELECT COUNT(*) AS n FROM encounters'),
    sql('DROP TABLE patients'),
    sql('SELECT discharge_date FROM encounters'),
    sql('SELECT 1', null),
  ]);
  assert.deepEqual(r.map((x) => x.status), [200, 200, 403, 403, 401], JSON.stringify(r.map((x) => x.json)));
}

before(async () => {
  bins = prometheusBinaries();
  const h = await helm();
  const { objects } = await h.template(['--api-versions', 'monitoring.coreos.com/v1', '--set', 'metrics.prometheusRule.enabled=true']);
  prometheusRule = objects.find((o) => o.kind === 'PrometheusRule');
  assert.ok(prometheusRule, 'the chart renders a PrometheusRule');
  rules = ruleFileOf(prometheusRule);

  gw = await startTestGateway(ACCEPTANCE_POLICY, TOKENS);
  cp = await startControlPlane();
  await installOperator(cp);
  await cp.kubectlOk(['create', 'namespace', 'team-a']);
  ctl = await startController(cp);
  await ctl.waitForLog(/is the leader/);
  await cp.kubectlOk(['apply', '-f', '-'], { input: `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: claims, namespace: team-a }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: ServiceAccount, name: coding-agent, namespace: team-a } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
` });
  await waitFor('gateway Deployment reconciled', async () => (await cp.kubectl(['get', 'deployment', 'phigate-gateway', '-n', 'team-a'])).status === 0);

  prom = await startPrometheus(bins, [
    { job: GATEWAY_JOB, target: hostPort(gw.url), labels: { namespace: 'team-a', pod: 'phigate-gateway-0' } },
    { job: CONTROLLER_JOB, target: hostPort(ctl.metricsUrl), labels: { namespace: 'phigate-system', pod: 'phigate-controller-0' } },
  ], rules);
  await traffic();
});

after(async () => {
  await prom?.stop();
  await ctl?.stop();
  await cp?.stop();
  await gw?.close();
});

describe('Prometheus scraping the gateway and the controller', () => {
  it('scrapes both targets', async () => {
    const up = await prom.waitFor('up', (r) => r.length === 2 && r.every((s) => s.value[1] === '1'));
    assert.deepEqual(up.map((s) => s.metric.job).sort(), [CONTROLLER_JOB, GATEWAY_JOB]);
  });

  it('phigate_statements_total by outcome is what the gateway counted', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const want = Object.fromEntries(['allowed', 'masked', 'denied', 'unauthenticated']
      .map((o) => [o, metricValue(text, 'phigate_statements_total', { outcome: o }) ?? 0]).filter(([, v]) => (v as number) > 0));
    assert.ok((want.denied ?? 0) >= 2 && (want.unauthenticated ?? 0) >= 1 && ((want.allowed ?? 0) + (want.masked ?? 0)) >= 2, JSON.stringify(want));
    const r = await prom.waitFor(`sum by (outcome) (phigate_statements_total{job="${GATEWAY_JOB}"})`, (r) =>
      Object.entries(want).every(([o, v]) => r.some((s) => s.metric.outcome === o && Number(s.value[1]) >= (v as number))));
    for (const s of r) assert.ok(['allowed', 'masked', 'denied', 'unauthenticated', 'pending_approval', 'error'].includes(s.metric.outcome!), s.metric.outcome);
  });

  it('answers the queries the dashboard asks: denials by rule, masked cells, rows, latency quantiles', async () => {
    const rulesSeen = await prom.waitFor(`sum by (rule) (phigate_denials_total{job="${GATEWAY_JOB}"})`, (r) => r.length >= 2);
    assert.ok(rulesSeen.some((s) => s.metric.rule === 'ddl'), JSON.stringify(rulesSeen.map((s) => s.metric.rule)));
    const masked = await prom.waitFor(`sum by (source, name) (phigate_masked_cells_total{job="${GATEWAY_JOB}"})`, (r) => r.length > 0);
    assert.ok(masked.every((s) => ['rule', 'detector'].includes(s.metric.source!)));
    await prom.waitFor(`phigate_rows_returned_total{job="${GATEWAY_JOB}"}`, (r) => r.length === 1 && Number(r[0]!.value[1]) >= 6);
    const p99 = await prom.waitFor(`histogram_quantile(0.99, sum by (le) (phigate_decision_duration_seconds_bucket{job="${GATEWAY_JOB}"}))`, (r) => r.length === 1 && Number.isFinite(Number(r[0]!.value[1])));
    assert.ok(Number(p99[0]!.value[1]) > 0 && Number(p99[0]!.value[1]) <= 0.1);
    await prom.waitFor(`sum by (outcome) (phigate_request_duration_seconds_count{job="${GATEWAY_JOB}"})`, (r) => r.length > 0);
    await prom.waitFor(`phigate_policies_loaded{job="${GATEWAY_JOB}"}`, (r) => r.length === 1 && r[0]!.value[1] === '1');
    await prom.waitFor(`phigate_audit_write_failures_total{job="${GATEWAY_JOB}"}`, (r) => r.length === 1 && r[0]!.value[1] === '0');
  });

  it('sees the controller lead and reconcile', async () => {
    await prom.waitFor(`leader_election_master_status{job="${CONTROLLER_JOB}", name="phigate-controller"}`, (r) => r.length === 1 && r[0]!.value[1] === '1');
    const rec = await prom.waitFor(`sum by (controller, result) (controller_runtime_reconcile_total{job="${CONTROLLER_JOB}"})`, (r) => r.some((s) => s.metric.controller === 'accesspolicy' && s.metric.result === 'success'));
    assert.ok(rec.length > 0);
    await prom.waitFor(`sum by (name) (workqueue_adds_total{job="${CONTROLLER_JOB}"})`, (r) => r.some((s) => s.metric.name === 'accesspolicy'));
    await prom.waitFor(`histogram_quantile(0.99, sum by (le, controller) (controller_runtime_reconcile_time_seconds_bucket{job="${CONTROLLER_JOB}"}))`, (r) => r.length > 0);
  });

  it('evaluates every alert rule of the chart without error; under denial-heavy traffic PhigateDenialRateSpike goes pending, and nothing else fires', async () => {
    // Two scrapes a second apart with denials in between make rate() non-zero.
    const until = Date.now() + 30_000;
    let alerts: any[] = [];
    while (Date.now() < until) {
      await traffic();
      alerts = (await prom.api('/api/v1/alerts')).alerts;
      if (alerts.some((a) => a.labels.alertname === 'PhigateDenialRateSpike')) break;
      await sleep(300);
    }
    const spike = alerts.find((a) => a.labels.alertname === 'PhigateDenialRateSpike');
    assert.ok(spike, `PhigateDenialRateSpike is active; alerts: ${JSON.stringify(alerts)}`);
    assert.equal(spike.state, 'pending', 'for: 10m keeps it pending in a short test');
    assert.equal(spike.labels.namespace, 'team-a');
    assert.deepEqual(alerts.map((a) => a.labels.alertname).filter((n) => n !== 'PhigateDenialRateSpike'), [], 'the leader is there, audit writes work, nothing pending approval');
    const groups = (await prom.api('/api/v1/rules')).groups;
    const loaded = groups.flatMap((g: any) => g.rules);
    assert.deepEqual(loaded.map((r: any) => r.name).sort(), prometheusRule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert)).sort());
    await waitFor('every rule evaluated', async () => {
      const rs = (await prom.api('/api/v1/rules')).groups.flatMap((g: any) => g.rules);
      return rs.every((r: any) => r.health === 'ok') ? rs : undefined;
    }, 15_000).catch(async (e) => { throw new Error(`${(e as Error).message}: ${JSON.stringify((await prom.api('/api/v1/rules')).groups.flatMap((g: any) => g.rules).map((r: any) => [r.name, r.health, r.lastError]))}`); });
  });
});

describe('promtool', () => {
  it('check rules passes on the PrometheusRule\'s groups', async () => {
    const file = join(prom.dir, 'check-rules.yaml');
    writeFileSync(file, rules);
    const r = await promtool(bins.promtool, ['check', 'rules', file]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const n = prometheusRule.spec.groups.flatMap((g: any) => g.rules).length;
    assert.match(r.stdout, new RegExp(`SUCCESS: ${n} rules found`));
  });

  it('test rules: each alert fires on the series it is about, after its `for`, and not on healthy ones', async () => {
    // Annotations are left out: these tests are about when the expressions fire (promtool
    // compares annotations exactly); `check rules` above parses the annotation templates.
    const noAnnotations = parse(rules);
    for (const g of noAnnotations.groups) for (const r of g.rules) delete r.annotations;
    writeFileSync(join(prom.dir, 'unit-rules.yaml'), stringify(noAnnotations));
    const gwS = (name: string, labels: Record<string, string>) => `${name}{${Object.entries({ job: GATEWAY_JOB, ...labels }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    const ctlS = (name: string, labels: Record<string, string>) => `${name}{${Object.entries({ job: CONTROLLER_JOB, ...labels }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    const alert = (alertname: string, at: string, labels: Array<Record<string, string>>) =>
      ({ eval_time: at, alertname, exp_alerts: labels.map((l) => ({ exp_labels: l })) });
    const tests = {
      rule_files: ['unit-rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // team-a: approvals wait, one expires; half its statements are denied; 10% meet warehouse errors.
            { series: gwS('phigate_approvals_pending', { namespace: 'team-a', pod: 'gw-a' }), values: '1x30' },
            { series: gwS('phigate_approval_decisions_total', { namespace: 'team-a', pod: 'gw-a', outcome: 'expired' }), values: '0 0 0 1x27' },
            { series: gwS('phigate_statements_total', { namespace: 'team-a', pod: 'gw-a', outcome: 'denied', front_end: 'sqlapi' }), values: '0+60x30' },
            { series: gwS('phigate_statements_total', { namespace: 'team-a', pod: 'gw-a', outcome: 'allowed', front_end: 'sqlapi' }), values: '0+60x30' },
            { series: gwS('phigate_upstream_errors_total', { namespace: 'team-a', pod: 'gw-a', engine: 'snowflake' }), values: '0+12x30' },
            { series: gwS('phigate_audit_write_failures_total', { namespace: 'team-a', pod: 'gw-a' }), values: '0 0 0 0 0 1x25' },
            // team-b: busy and healthy (a few denials); team-c: one denial a minute and nothing else (too little traffic to be a spike).
            { series: gwS('phigate_approvals_pending', { namespace: 'team-b', pod: 'gw-b' }), values: '0x30' },
            { series: gwS('phigate_statements_total', { namespace: 'team-b', pod: 'gw-b', outcome: 'denied', front_end: 'mcp' }), values: '0+1x30' },
            { series: gwS('phigate_statements_total', { namespace: 'team-b', pod: 'gw-b', outcome: 'masked', front_end: 'mcp' }), values: '0+600x30' },
            { series: gwS('phigate_upstream_errors_total', { namespace: 'team-b', pod: 'gw-b', engine: 'duckdb' }), values: '0x30' },
            { series: gwS('phigate_audit_write_failures_total', { namespace: 'team-b', pod: 'gw-b' }), values: '0x30' },
            { series: gwS('phigate_statements_total', { namespace: 'team-c', pod: 'gw-c', outcome: 'denied', front_end: 'sqlapi' }), values: '0+1x30' },
            // The controller: accesspolicy reconciles keep failing; the leader goes away at 10m.
            { series: ctlS('controller_runtime_reconcile_errors_total', { controller: 'accesspolicy' }), values: '0+1x30' },
            { series: ctlS('controller_runtime_reconcile_errors_total', { controller: 'approvalrequest' }), values: '0x30' },
            { series: ctlS('leader_election_master_status', { name: 'phigate-controller', pod: 'ctl-0' }), values: '1x10 0x20' },
            { series: ctlS('leader_election_master_status', { name: 'phigate-controller', pod: 'ctl-1' }), values: '0x30' },
          ],
          alert_rule_test: [
            alert('PhigateApprovalsPendingTooLong', '5m', []),
            alert('PhigateApprovalsPendingTooLong', '15m', [{ severity: 'warning', namespace: 'team-a' }]),
            alert('PhigateApprovalsExpiring', '2m', []),
            alert('PhigateApprovalsExpiring', '10m', [{ severity: 'info', namespace: 'team-a' }]),
            alert('PhigateDenialRateSpike', '5m', []),
            alert('PhigateDenialRateSpike', '15m', [{ severity: 'warning', namespace: 'team-a' }]),
            alert('PhigateUpstreamErrors', '15m', [{ severity: 'warning', namespace: 'team-a' }]),
            alert('PhigateAuditWriteFailures', '4m', []),
            alert('PhigateAuditWriteFailures', '7m', [{ severity: 'critical', namespace: 'team-a', pod: 'gw-a' }]),
            alert('PhigateAuditWriteFailures', '15m', []),
            alert('PhigateControllerReconcileErrors', '10m', []),
            alert('PhigateControllerReconcileErrors', '20m', [{ severity: 'warning', controller: 'accesspolicy' }]),
            alert('PhigateControllerNoLeader', '12m', []),
            alert('PhigateControllerNoLeader', '20m', [{ severity: 'critical' }]),
          ],
        },
        {
          // No controller scraped at all: absent() fires.
          interval: '1m',
          input_series: [{ series: gwS('phigate_approvals_pending', { namespace: 'team-a', pod: 'gw-a' }), values: '0x10' }],
          alert_rule_test: [
            alert('PhigateControllerNoLeader', '3m', []),
            alert('PhigateControllerNoLeader', '10m', [{ severity: 'critical', job: CONTROLLER_JOB, name: 'phigate-controller' }]),
          ],
        },
      ],
    };
    writeFileSync(join(prom.dir, 'unit-tests.yaml'), stringify(tests));
    const r = await promtool(bins.promtool, ['test', 'rules', 'unit-tests.yaml'], undefined, prom.dir);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /SUCCESS/);
    const tested = new Set(tests.tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)));
    for (const g of prometheusRule.spec.groups) for (const rule of g.rules) assert.ok(tested.has(rule.alert), `${rule.alert} has a unit test`);
  });

  // prom-client's default Node.js metrics include three gauges named *_total, which promtool's
  // linter flags; they are prom-client's names (nodejs_active_{handles,requests,resources}_total),
  // not phigate's. Every metric phigate defines passes.
  const PROM_CLIENT_DEFAULTS = /^(phigate_process_)?nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
  for (const [what, url] of [['gateway', () => `${gw.url}/metrics`], ['controller', () => `${ctl.metricsUrl}/metrics`]] as const) {
    it(`check metrics on the ${what}'s /metrics finds nothing wrong with phigate's own metrics`, async (t) => {
      const text = await (await fetch(url())).text();
      const r = await promtool(bins.promtool, ['check', 'metrics'], text);
      const problems = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
      assert.ok(r.status === 0 || r.status === 3, `promtool check metrics exit ${r.status}: ${problems.join('\n')}`);
      const ours = problems.filter((p) => !PROM_CLIENT_DEFAULTS.test(p));
      assert.deepEqual(ours, [], `promtool check metrics (${what}):\n${ours.join('\n')}`);
      for (const p of problems) t.diagnostic(`prom-client default metric: ${p}`);
    });
  }
});

describe('the metrics that alerts and dashboards name', () => {
  it('metricNamesInPromQL reads names, not functions, labels, keywords, durations or Grafana variables', () => {
    assert.deepEqual(metricNamesInPromQL('sum by (outcome) (rate(phigate_statements_total{job="x", outcome=~"a|b"}[$__rate_interval]))'), ['phigate_statements_total']);
    assert.deepEqual(metricNamesInPromQL('histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m]))) > 0.5 and on(namespace) b_total offset 5m'), ['a_bucket', 'b_total']);
    assert.deepEqual(metricNamesInPromQL('max(x{name="y"}) < 1 or absent(x{name="y"})'), ['x']);
    assert.deepEqual(metricNamesInPromQL('label_values(phigate_statements_total{job="phigate-gateway"}, namespace)'), ['phigate_statements_total']);
  });

  it('every metric an alert or a dashboard panel names is exported by the gateway or the controller, and was scraped', async () => {
    const exported = new Set([
      ...declaredMetricNames(await (await fetch(`${gw.url}/metrics`)).text()),
      ...declaredMetricNames(await (await fetch(`${ctl.metricsUrl}/metrics`)).text()),
    ]);
    const named = new Map<string, string[]>();
    const note = (expr: string, where: string) => { for (const n of metricNamesInPromQL(expr)) named.set(n, [...(named.get(n) ?? []), where]); };
    for (const g of prometheusRule.spec.groups) for (const r of g.rules) note(r.expr, `alert ${r.alert}`);
    const panels = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
    for (const p of panels) for (const t of p.targets ?? []) note(t.expr, `panel "${p.title}"`);
    for (const v of dashboard.templating.list) if (typeof v.query === 'object' && v.query?.query) note(v.query.query, `variable ${v.name}`);
    assert.ok(named.size >= 20, `found ${named.size} metric names`);
    const missing = [...named].filter(([n]) => !exported.has(n)).map(([n, w]) => `${n} (${w.join(', ')})`);
    assert.deepEqual(missing, [], `named but not exported:\n${missing.join('\n')}`);
    // And Prometheus holds them: every named metric that has a sample by now was scraped under its name.
    const scraped = new Set<string>(await prom.api('/api/v1/label/__name__/values'));
    for (const n of ['phigate_statements_total', 'phigate_denials_total', 'phigate_masked_cells_total', 'phigate_decision_duration_seconds_bucket',
      'phigate_request_duration_seconds_bucket', 'phigate_approvals_pending', 'phigate_audit_write_failures_total', 'phigate_policies_loaded',
      'controller_runtime_reconcile_total', 'controller_runtime_reconcile_time_seconds_bucket', 'leader_election_master_status', 'workqueue_depth', 'process_resident_memory_bytes']) {
      assert.ok(named.has(n), `${n} is used by an alert or a panel`);
      assert.ok(scraped.has(n), `Prometheus scraped ${n}`);
    }
  });

  it('the dashboard has panels for gateway traffic, decisions, masking, approvals, latency and controller health', () => {
    const rows = dashboard.panels.filter((p: any) => p.type === 'row').map((p: any) => p.title);
    assert.deepEqual(rows, ['Gateway traffic', 'Decisions', 'Masking', 'Approvals', 'Latency and upstream', 'Controller health']);
    for (const p of dashboard.panels.filter((x: any) => x.type !== 'row')) {
      assert.ok(p.targets?.length > 0 && p.title && p.description, `panel ${p.id} has a title, a description and a query`);
      assert.equal(p.datasource.uid, '${datasource}');
    }
  });
});
