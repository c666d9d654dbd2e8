// The chart's static parts, without helm: CRDs identical to crds/, values.yaml and
// values.schema.json in step (every value typed, described and defaulted), versions in step
// with package.json and the controller's default image, gateway defaults equal to what the
// controller renders today, the Grafana dashboard well-formed and naming only metrics phigate
// defines, and the README's values table covering every value. (test/integration/helm.test.ts
// renders, lints and installs the chart with the real helm.)
import { parseAllDocuments } from 'yaml';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/cli.ts';
import { CHART, chartValues, chartValuesTable } from '../../helpers/helm.ts';
import { metricNamesInPromQL } from '../../helpers/prometheus.ts';
import { DEFAULT_IMAGE } from '../../../src/cli/controller.ts';
import { render } from '../../../src/controller/accesspolicy/render.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { ControllerMetrics } from '../../../src/metrics/controller.ts';

const read = (...p: string[]) => readFileSync(join(...p), 'utf8');
const schema = JSON.parse(read(CHART, 'values.schema.json'));
const values = parse(read(CHART, 'values.yaml'));
const chartYaml = parse(read(CHART, 'Chart.yaml'));
const pkg = JSON.parse(read(ROOT, 'package.json'));

describe('chart CRDs', () => {
  it('charts/phigate/crds/ is byte-for-byte crds/ (copy crds/*.yaml there after editing a CRD)', () => {
    const top = readdirSync(join(ROOT, 'crds')).sort();
    const chart = readdirSync(join(CHART, 'crds')).sort();
    assert.deepEqual(chart, top, 'the same files');
    for (const f of top) {
      assert.ok(readFileSync(join(CHART, 'crds', f)).equals(readFileSync(join(ROOT, 'crds', f))), `charts/phigate/crds/${f} differs from crds/${f}: cp crds/${f} charts/phigate/crds/`);
    }
  });
});

describe('values.yaml and values.schema.json', () => {
  it('values.yaml is valid under the schema', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    assert.ok(validate(values), JSON.stringify(validate.errors, null, 2));
  });

  it('the schema refuses unknown keys and wrong types (the mistakes helm would otherwise ignore)', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const bad = (patch: (v: any) => void) => { const v = structuredClone(values); patch(v); return validate(v); };
    assert.equal(bad((v) => { v.controller.replica = 3; }), false);
    assert.equal(bad((v) => { v.contoller = {}; }), false);
    assert.equal(bad((v) => { v.controller.replicas = '2'; }), false);
    assert.equal(bad((v) => { v.controller.leaderElection.leaseDuration = '15 seconds'; }), false);
    assert.equal(bad((v) => { v.networkPolicy.warehouse.cidrs = ['snowflake.example.com']; }), false);
    assert.equal(bad((v) => { v.oidc.enabled = true; }), false, 'OIDC on needs an issuer');
    assert.equal(bad((v) => { v.oidc.enabled = true; v.oidc.issuerUrl = 'https://login.example.com'; }), true);
  });

  it('every value in values.yaml is in the schema, and every value in the schema has a default in values.yaml and a description', () => {
    const rows = chartValues(schema, values);
    assert.ok(rows.length > 60, `${rows.length} values`);
    for (const r of rows) {
      assert.notEqual(r.default, undefined, `${r.path} has a default in values.yaml`);
      assert.ok(r.description.length > 10, `${r.path} is described in values.schema.json`);
    }
    const paths = new Set(rows.map((r) => r.path));
    const walk = (v: any, s: any, path: string) => {
      if (s?.type === 'object' && s.additionalProperties === false) {
        for (const [k, sub] of Object.entries(v ?? {})) {
          const p = path ? `${path}.${k}` : k;
          assert.ok(s.properties?.[k], `${p} (values.yaml) is in values.schema.json`);
          walk(sub, s.properties[k], p);
        }
      } else {
        assert.ok(paths.has(path), `${path} is a documented value`);
      }
    };
    walk(values, schema, '');
  });

  it('closes every object whose keys the chart defines (additionalProperties: false)', () => {
    const open: string[] = [];
    const walk = (s: any, path: string) => {
      if (s.type !== 'object' || !s.properties) return;
      const freeForm = ['securityContext', 'podSecurityContext'].includes(path.split('.').pop()!);
      if (s.additionalProperties !== false && !freeForm) open.push(path || '(root)');
      for (const [k, sub] of Object.entries(s.properties)) walk(sub, path ? `${path}.${k}` : k);
    };
    walk(schema, '');
    assert.deepEqual(open, []);
  });
});

describe('versions and defaults', () => {
  it('appVersion is package.json\'s version, and the default image is the one the controller defaults to', () => {
    assert.equal(chartYaml.appVersion, pkg.version);
    assert.equal(chartYaml.apiVersion, 'v2');
    assert.equal(`${values.image.repository}:${chartYaml.appVersion}`, DEFAULT_IMAGE);
    assert.equal(values.image.tag, '', 'the tag follows appVersion');
  });

  it('the gateway defaults are what the controller renders today, so PHIGATE_GATEWAY_DEFAULTS changes nothing by default', () => {
    const dep = render('team-a', [{ apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p', uid: 'u' }, spec: {} as any }], { image: 'i', replicas: 1, version: 'v' })
      .namespaced.find((o) => o.kind === 'Deployment') as any;
    const pod = dep.spec.template.spec;
    assert.deepEqual(values.gateway.resources, pod.containers[0].resources);
    assert.deepEqual(values.gateway.securityContext, pod.containers[0].securityContext);
    assert.deepEqual(values.gateway.podSecurityContext, pod.securityContext);
    assert.equal(values.gateway.replicas, 1);
  });

  it('the controller defaults are the Deployment in manifests/install.yaml', () => {
    const m = parseAllDocuments(read(ROOT, 'manifests', 'install.yaml')).map((d) => d.toJS()).find((d: any) => d?.kind === 'Deployment');
    const pod = m.spec.template.spec;
    assert.equal(values.controller.replicas, m.spec.replicas);
    assert.deepEqual(values.controller.resources, pod.containers[0].resources);
    assert.deepEqual(values.controller.securityContext, pod.containers[0].securityContext);
    assert.deepEqual(values.controller.podSecurityContext, pod.securityContext);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read(CHART, 'dashboards', 'phigate.json'));
  const panels = dashboard.panels.filter((p: any) => p.type !== 'row');

  it('is well-formed: unique ids, panels inside the 24-column grid and not overlapping, a datasource variable', () => {
    assert.equal(dashboard.uid, 'phigate');
    const ids = dashboard.panels.map((p: any) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `panel ${p.title} fits the grid`);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `panel ${p.title} overlaps another at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
    assert.ok(dashboard.templating.list.some((v: any) => v.type === 'datasource' && v.name === 'datasource'));
    for (const p of panels) for (const t of p.targets) assert.equal(t.datasource.uid, '${datasource}');
  });

  it('names only metrics that phigate\'s registries define', async () => {
    const defined = new Set<string>();
    for (const registry of [new Metrics().registry, new ControllerMetrics().registry]) {
      for (const m of await registry.getMetricsAsJSON()) {
        defined.add(m.name);
        if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) defined.add(m.name + s);
      }
    }
    const named = panels.flatMap((p: any) => p.targets.flatMap((t: any) => metricNamesInPromQL(t.expr)));
    assert.ok(named.length > 20);
    const unknown = [...new Set(named)].filter((n) => !defined.has(n as string));
    assert.deepEqual(unknown, [], `the dashboard names metrics nobody exports: ${unknown.join(', ')}`);
  });
});

describe('README', () => {
  // The README section is generated: print it with
  //   node --import tsx -e "import('./test/helpers/helm.ts').then(async (h) => { const fs = await import('node:fs'); console.log(h.chartValuesTable(JSON.parse(fs.readFileSync('charts/phigate/values.schema.json','utf8')), (await import('yaml')).parse(fs.readFileSync('charts/phigate/values.yaml','utf8')))) })"
  it('documents every chart value in the table under "### Chart values"', () => {
    const readme = read(ROOT, 'README.md');
    const at = readme.indexOf('\n### Chart values\n');
    assert.ok(at >= 0, 'README.md has a "### Chart values" section (paste chartValuesTable() from test/helpers/helm.ts there)');
    const rest = readme.slice(at + '\n### Chart values\n'.length);
    const end = rest.search(/\n#{1,3} /);
    const section = end < 0 ? rest : rest.slice(0, end);
    const documented = new Set([...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
    const missing = chartValues(schema, values).map((r) => r.path).filter((p) => !documented.has(p));
    assert.deepEqual(missing, [], `README.md's values table lacks ${missing.join(', ')}; regenerate it with chartValuesTable()`);
    const stale = [...documented].filter((p) => !chartValues(schema, values).some((r) => r.path === p));
    assert.deepEqual(stale, [], `README.md's values table documents values the chart no longer has: ${stale.join(', ')}`);
    assert.ok(chartValuesTable(schema, values).split('\n').length > 60);
  });
});
