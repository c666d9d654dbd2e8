// The Helm chart with the real helm (built from Go modules, cached) against the real
// kube-apiserver + etcd: lint --strict; template with several value sets, each applied with
// `kubectl apply --dry-run=server`; the same objects as the operator's manifests and
// manifests/install.yaml; `helm install` (no --wait: no Pods run here) and its objects
// observed; the controller run as a local process with the chart's ServiceAccount token
// (so the chart's RBAC is proven enough); `helm uninstall`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BIN, ROOT } from '../helpers/cli.ts';
import { startControlPlane, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { CHART, RELEASE_NAMESPACE as NS, helm, installFromChart, objectKey, parseObjects, type Helm } from '../helpers/helm.ts';
import { prometheusOperatorCrds } from '../helpers/prometheus.ts';

const MONITORING_API = ['--api-versions', 'monitoring.coreos.com/v1'];
const NETWORK_POLICY = [
  '--set', 'networkPolicy.enabled=true',
  '--set-json', 'networkPolicy.gatewayNamespaces=["team-a","team-b"]',
  '--set-json', 'networkPolicy.apiServer.cidrs=["10.0.0.1/32"]',
  '--set-json', 'networkPolicy.warehouse.cidrs=["10.20.0.0/16"]',
  '--set-json', 'networkPolicy.agents.ipBlocks=["192.168.10.0/24"]',
  '--set-json', 'networkPolicy.agents.namespaceSelector={"matchLabels":{"team":"a"}}',
];
const OIDC = ['--set', 'oidc.enabled=true,oidc.issuerUrl=https://login.example.com/realms/agents,oidc.jwksUrl=https://login.example.com/realms/agents/protocol/openid-connect/certs,oidc.audience=phigate-agents'];
const MONITORING = ['--set', 'metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,grafanaDashboard.enabled=true'];
const PRODUCTION = [
  '--set', 'controller.replicas=3,controller.podDisruptionBudget.enabled=true,controller.logLevel=debug,gateway.replicas=2',
  '--set', 'image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  '--set', 'gateway.image.repository=registry.example.com/phigate/gateway,gateway.image.tag=0.1.0-hardened',
  '--set-json', 'controller.tolerations=[{"key":"dedicated","operator":"Equal","value":"platform","effect":"NoSchedule"}]',
  '--set-json', 'controller.nodeSelector={"kubernetes.io/os":"linux"}',
  '--set-json', 'imagePullSecrets=[{"name":"regcred"}]',
];

const CORE = [
  'ClusterRole/phigate-approver', 'ClusterRole/phigate-controller', 'ClusterRole/phigate-gateway-tokenreview',
  'ClusterRoleBinding/phigate-controller', `Deployment/${NS}/phigate-controller`, `Role/${NS}/phigate-controller-leader-election`,
  `RoleBinding/${NS}/phigate-controller-leader-election`, `ServiceAccount/${NS}/phigate-controller`,
  'ValidatingAdmissionPolicy/phigate-approval-decisions', 'ValidatingAdmissionPolicyBinding/phigate-approval-decisions',
];

/** Each value set: the flags, and the objects it renders beyond CORE. */
const VALUE_SETS: Record<string, { args: string[]; extra: string[] }> = {
  defaults: { args: [], extra: [] },
  monitoring: { args: [...MONITORING_API, ...MONITORING], extra: [`ConfigMap/${NS}/phigate-dashboard`, `PrometheusRule/${NS}/phigate`, `Service/${NS}/phigate-controller-metrics`, `ServiceMonitor/${NS}/phigate-controller`, `ServiceMonitor/${NS}/phigate-gateways`] },
  networkPolicy: { args: NETWORK_POLICY, extra: [`NetworkPolicy/${NS}/phigate-controller`, 'NetworkPolicy/team-a/phigate-gateway', 'NetworkPolicy/team-b/phigate-gateway'] },
  oidc: { args: OIDC, extra: [] },
  production: { args: PRODUCTION, extra: [`PodDisruptionBudget/${NS}/phigate-controller`] },
};

let h: Helm;
let cp: ControlPlane;
const rendered: Record<string, { text: string; objects: any[] }> = {};

const find = (objects: any[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const controllerContainer = (objects: any[]) => find(objects, 'Deployment', 'phigate-controller').spec.template.spec.containers[0];
const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name)?.value;
const yamlDocs = (path: string) => parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS()).filter(Boolean) as any[];

before(async () => {
  h = await helm();
  for (const [name, set] of Object.entries(VALUE_SETS)) rendered[name] = await h.template(set.args);
  cp = await startControlPlane();
  await cp.kubectlOk(['apply', '--server-side', '-f', '-'], { input: prometheusOperatorCrds() });
  for (const ns of [NS, 'team-a', 'team-b']) await cp.kubectlOk(['create', 'namespace', ns]);
  await waitFor('monitoring CRDs served', async () => (await cp.kubectl(['get', 'servicemonitors,prometheusrules', '-A'])).status === 0);
});

after(async () => {
  await cp?.stop();
});

describe('helm lint', () => {
  it('passes --strict with the defaults and with every value set', async () => {
    for (const [name, set] of Object.entries(VALUE_SETS)) {
      const args = set.args.filter((a, i, all) => a !== '--api-versions' && all[i - 1] !== '--api-versions');
      const r = await h.run(['lint', '--strict', CHART, ...args]);
      assert.equal(r.status, 0, `helm lint --strict (${name}):\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });
});

describe('helm template', () => {
  for (const [name, set] of Object.entries(VALUE_SETS)) {
    it(`renders the expected objects (${name}) and the API server accepts them (kubectl apply --dry-run=server)`, async () => {
      const { text, objects } = rendered[name]!;
      assert.deepEqual(objects.map(objectKey).sort(), [...CORE, ...set.extra].sort());
      for (const o of objects) {
        assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'phigate', `${objectKey(o)} is labelled`);
        assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', `${objectKey(o)} is labelled`);
      }
      const r = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: text });
      assert.equal(r.status, 0, `kubectl apply --dry-run=server (${name}):\n${r.stderr}`);
      assert.equal(r.stdout.trim().split('\n').length, objects.length, r.stdout);
      assert.doesNotMatch(r.stderr, /unknown field|Warning/i, r.stderr);
    });
  }

  it('runs the controller as the operator manifests do: 2 replicas, leader election, non-root, read-only root, no privilege escalation, seccomp, no capabilities', () => {
    const { objects } = rendered.defaults!;
    const dep = find(objects, 'Deployment', 'phigate-controller');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(dep.spec.replicas, 2);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.ok(c.args.includes('--leader-election-id=phigate-controller'));
    assert.ok(!c.args.includes('--no-leader-elect'));
    assert.equal(c.image, 'ghcr.io/phigate/phigate:0.1.0');
    assert.ok(c.args.includes('--gateway-image=ghcr.io/phigate/phigate:0.1.0'), 'gateways run the same image');
    // tsx writes its compile cache under the temp dir: with a read-only root it needs a volume.
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.deepEqual(pod.volumes, [{ name: 'tmp', emptyDir: {} }]);
  });

  it('passes the gateway defaults to the controller: image and replicas as flags, the rest (and OIDC) as PHIGATE_GATEWAY_DEFAULTS', () => {
    const c = controllerContainer(rendered.production!.objects);
    assert.equal(c.image, 'ghcr.io/phigate/phigate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    assert.ok(c.args.includes('--gateway-image=registry.example.com/phigate/gateway:0.1.0-hardened'), c.args.join(' '));
    assert.ok(c.args.includes('--gateway-replicas=2'));
    const defaults = JSON.parse(envOf(c, 'PHIGATE_GATEWAY_DEFAULTS'));
    assert.deepEqual(defaults.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(defaults.podSecurityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    assert.equal(defaults.oidc, undefined, 'no OIDC unless enabled');
    const oidc = JSON.parse(envOf(controllerContainer(rendered.oidc!.objects), 'PHIGATE_GATEWAY_DEFAULTS')).oidc;
    assert.deepEqual(oidc, {
      issuerUrl: 'https://login.example.com/realms/agents', audience: 'phigate-agents',
      jwksUrl: 'https://login.example.com/realms/agents/protocol/openid-connect/certs',
      usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:', caBundle: '',
    });
    const prod = find(rendered.production!.objects, 'Deployment', 'phigate-controller');
    assert.equal(prod.spec.replicas, 3);
    assert.deepEqual(prod.spec.template.spec.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal(envOf(controllerContainer(rendered.production!.objects), 'PHIGATE_LOG_LEVEL'), 'debug');
  });

  it('limits gateways to agents in, warehouse + API server + DNS out (networkPolicy)', () => {
    const np = find(rendered.networkPolicy!.objects.filter((o) => o.metadata.namespace === 'team-a'), 'NetworkPolicy', 'phigate-gateway');
    assert.deepEqual(np.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'phigate', 'app.kubernetes.io/component': 'gateway' } });
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(np.spec.ingress[0].from, [
      { podSelector: { matchLabels: { 'phigate.io/agent': 'true' } }, namespaceSelector: { matchLabels: { team: 'a' } } },
      { ipBlock: { cidr: '192.168.10.0/24' } },
    ]);
    assert.deepEqual(np.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port)), ['http', 'http'], 'only the gateway port');
    const egressTo = np.spec.egress.map((r: any) => r.to.map((t: any) => t.ipBlock?.cidr ?? 'cluster-dns').join(','));
    assert.deepEqual(egressTo, ['10.20.0.0/16', '10.0.0.1/32', 'cluster-dns']);
  });

  it('refuses values the schema does not know or that contradict each other, with a message naming them', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'controller.replica=3'], /additional properties 'replica' not allowed|replica/],
      [['--set', 'controller.replicas=two'], /replicas/],
      [['--set', 'controller.logFormat=xml'], /logFormat/],
      [['--set', 'image.digest=latest'], /digest/],
      [['--set', 'controller.leaderElection.enabled=false'], /controller.replicas > 1 needs controller.leaderElection.enabled/],
      [['--set', 'networkPolicy.enabled=true'], /networkPolicy.apiServer.cidrs is required/],
      [['--set', 'oidc.enabled=true'], /issuerUrl/],
    ];
    for (const [args, re] of cases) {
      const r = await h.run(['template', 'phigate', CHART, '--namespace', NS, ...args]);
      assert.notEqual(r.status, 0, `${args.join(' ')} should be refused`);
      assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('leaves the ServiceMonitors and the PrometheusRule out where monitoring.coreos.com/v1 is not served', async () => {
    const { objects } = await h.template(MONITORING);
    assert.deepEqual(objects.map(objectKey).sort(), [...CORE, `ConfigMap/${NS}/phigate-dashboard`].sort());
  });

  it('ships the dashboard JSON in its ConfigMap', () => {
    const cm = find(rendered.monitoring!.objects, 'ConfigMap', 'phigate-dashboard');
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse(cm.data['phigate.json']), JSON.parse(readFileSync(join(CHART, 'dashboards', 'phigate.json'), 'utf8')));
  });

  it('points the ServiceMonitors at ports that exist: the metrics Service and the gateways the controller renders', async () => {
    const { objects } = rendered.monitoring!;
    const svc = find(objects, 'Service', 'phigate-controller-metrics');
    const sm = find(objects, 'ServiceMonitor', 'phigate-controller');
    assert.deepEqual(sm.spec.endpoints.map((e: any) => e.port), svc.spec.ports.map((p: any) => p.name));
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v, `Service has ${k}`);
    const { render } = await import('../../src/controller/accesspolicy/render.ts');
    const gwSvc = render('team-a', [{ apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p', uid: 'u' }, spec: {} as any }], { image: 'i', replicas: 1, version: 'v' })
      .namespaced.find((o) => o.kind === 'Service') as any;
    const gsm = find(objects, 'ServiceMonitor', 'phigate-gateways');
    assert.deepEqual(gsm.spec.endpoints.map((e: any) => e.port), gwSvc.spec.ports.map((p: any) => p.name));
    for (const [k, v] of Object.entries(gsm.spec.selector.matchLabels)) assert.equal(gwSvc.metadata.labels[k], v, `gateway Service has ${k}`);
    assert.deepEqual(gsm.spec.namespaceSelector, { any: true });
  });
});

describe('manifests/install.yaml', () => {
  it('is `helm template` of the chart with the defaults, after its namespace (PHIGATE_UPDATE_MANIFESTS=1 rewrites it)', async () => {
    const want = await installFromChart(h);
    const path = join(ROOT, 'manifests', 'install.yaml');
    if (process.env.PHIGATE_UPDATE_MANIFESTS === '1') writeFileSync(path, want);
    assert.equal(readFileSync(path, 'utf8'), want, 'manifests/install.yaml is stale: run this test with PHIGATE_UPDATE_MANIFESTS=1');
  });

});

describe('helm install into the real API server', () => {
  const kubeEnv = () => ({ KUBECONFIG: cp.kubeconfig });
  const json = async (args: string[]) => JSON.parse(await cp.kubectlOk([...args, '-o', 'json']));

  it('installs (no --wait: no Pods run here) and every object is there, with NOTES telling the next step', async () => {
    const r = await h.run(['install', 'phigate', CHART, '--namespace', NS, '--create-namespace', ...MONITORING, '--set', 'controller.podDisruptionBudget.enabled=true'], { env: kubeEnv() });
    assert.equal(r.status, 0, `helm install:\n${r.stderr}${r.stdout}`);
    assert.match(r.stdout, /STATUS: deployed/);
    assert.match(r.stdout, /kubectl apply -f manifests\/examples\/snowflake-policy\.yaml/);
    assert.match(r.stdout, /kubectl create token coding-agent -n team-a --audience phigate/);
    assert.match(r.stdout, /curl -s http:\/\/127\.0\.0\.1:8443\/api\/v2\/statements/);
    assert.match(r.stdout, /claude mcp add --transport http phigate/);
    assert.doesNotMatch(r.stdout, /WARNING/, 'the monitoring API is served here: no warning');

    const crds = await cp.kubectlOk(['get', 'crd', '-o', 'name']);
    assert.match(crds, /accesspolicies\.phigate\.io/);
    assert.match(crds, /approvalrequests\.phigate\.io/);
    await waitFor('phigate CRDs served', async () => (await cp.kubectl(['get', 'accesspolicies,approvalrequests', '-A'])).status === 0);
    const dep = await json(['get', 'deployment', 'phigate-controller', '-n', NS]);
    assert.equal(dep.spec.replicas, 2);
    assert.equal(dep.metadata.annotations['meta.helm.sh/release-name'], 'phigate');
    const approver = await json(['get', 'clusterrole', 'phigate-approver']);
    const statusRules = approver.rules.filter((x: any) => x.resources.includes('approvalrequests/status'));
    assert.deepEqual(statusRules.flatMap((x: any) => x.verbs).sort(), ['get', 'patch']);
    assert.equal((await json(['get', 'validatingadmissionpolicy', 'phigate-approval-decisions'])).spec.failurePolicy, 'Fail');
    assert.deepEqual((await json(['get', 'validatingadmissionpolicybinding', 'phigate-approval-decisions'])).spec.validationActions, ['Deny']);
    for (const what of ['servicemonitor/phigate-controller', 'servicemonitor/phigate-gateways', 'prometheusrule/phigate', 'service/phigate-controller-metrics', 'poddisruptionbudget/phigate-controller', 'configmap/phigate-dashboard', 'serviceaccount/phigate-controller', 'role/phigate-controller-leader-election', 'rolebinding/phigate-controller-leader-election']) {
      await cp.kubectlOk(['get', what, '-n', NS]);
    }
    for (const what of ['clusterrole/phigate-controller', 'clusterrole/phigate-gateway-tokenreview', 'clusterrolebinding/phigate-controller']) await cp.kubectlOk(['get', what]);
    const list = await h.ok(['list', '--namespace', NS, '-o', 'json'], { env: kubeEnv() });
    assert.equal(JSON.parse(list)[0].status, 'deployed');
  });

  it('the controller, run as a local process with the chart\'s ServiceAccount token and the chart\'s flags, leads and reconciles a policy (the chart\'s RBAC is enough)', async () => {
    const token = (await cp.kubectlOk(['create', 'token', 'phigate-controller', '-n', NS, '--duration', '10m'])).trim();
    const server = (await cp.kubectlOk(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    const kubeconfig = join(cp.dir, 'kubeconfig-phigate-controller');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config',
      `clusters: [{name: local, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: sa, user: {token: ${token}}}]`,
      `contexts: [{name: sa, context: {cluster: local, user: sa, namespace: ${NS}}}]`,
      'current-context: sa', '',
    ].join('\n'));
    const c = (await json(['get', 'deployment', 'phigate-controller', '-n', NS])).spec.template.spec.containers[0];
    assert.equal(c.args[0], 'controller');
    const args = c.args.map((a: string) => a.startsWith('--metrics-bind-address=') ? '--metrics-bind-address=127.0.0.1:0' : a);
    const env: Record<string, string> = { ...process.env as Record<string, string>, KUBECONFIG: kubeconfig, POD_NAMESPACE: NS };
    for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    try {
      await waitFor('the controller leads', async () => {
        if (proc.exitCode !== null) throw new Error(`controller exited (${proc.exitCode}): ${out.slice(-2000)}`);
        return /is the leader/.test(out);
      }, 30_000).catch((e) => { throw new Error(`${(e as Error).message}\n--- controller\n${out.slice(-3000)}`); });
      const lease = await json(['get', 'lease', 'phigate-controller', '-n', NS]);
      assert.ok(lease.spec.holderIdentity, 'the Lease names its holder');
      await cp.kubectlOk(['apply', '-f', '-'], { input: `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: demo, namespace: team-a }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: ServiceAccount, name: coding-agent, namespace: team-a } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
` });
      const gw = await waitFor('gateway Deployment in team-a', async () => {
        const r = await cp.kubectl(['get', 'deployment', 'phigate-gateway', '-n', 'team-a', '-o', 'json']);
        return r.status === 0 ? JSON.parse(r.stdout) : undefined;
      }, 30_000).catch((e) => { throw new Error(`${(e as Error).message}\n--- controller\n${out.slice(-3000)}`); });
      assert.equal(gw.spec.template.spec.containers[0].image, 'ghcr.io/phigate/phigate:0.1.0', 'the chart\'s --gateway-image');
      assert.equal(gw.spec.replicas, 1, 'the chart\'s --gateway-replicas');
      await cp.kubectlOk(['get', 'clusterrolebinding', 'phigate-gateway-team-a']);
      const p = await waitFor('policy status', async () => {
        const x = await json(['get', 'accesspolicy', 'demo', '-n', 'team-a']);
        return x.status?.conditions?.some((cd: any) => cd.type === 'Valid' && cd.status === 'True') ? x : undefined;
      });
      assert.equal(p.status.gateway.service, 'phigate-gateway.team-a.svc:8443');
      assert.doesNotMatch(out, /forbidden/i, 'no RBAC refusal in the controller log');
      await cp.kubectlOk(['delete', 'accesspolicy', 'demo', '-n', 'team-a']);
      await waitFor('gateway removed with its last policy', async () => (await cp.kubectl(['get', 'deployment', 'phigate-gateway', '-n', 'team-a'])).status !== 0, 30_000);
    } finally {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  });

  it('upgrades: a changed value reaches the Deployment; the CRDs are left as they are', async () => {
    const before = await json(['get', 'crd', 'accesspolicies.phigate.io']);
    const r = await h.run(['upgrade', 'phigate', CHART, '--namespace', NS, ...MONITORING, '--set', 'gateway.replicas=3'], { env: kubeEnv() });
    assert.equal(r.status, 0, `helm upgrade:\n${r.stderr}`);
    const c = (await json(['get', 'deployment', 'phigate-controller', '-n', NS])).spec.template.spec.containers[0];
    assert.ok(c.args.includes('--gateway-replicas=3'));
    assert.equal((await json(['get', 'crd', 'accesspolicies.phigate.io'])).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('uninstalls: the chart\'s objects go, the CRDs (and so every policy) stay', async () => {
    const r = await h.run(['uninstall', 'phigate', '--namespace', NS], { env: kubeEnv() });
    assert.equal(r.status, 0, `helm uninstall:\n${r.stderr}`);
    for (const what of [['clusterrole', 'phigate-approver'], ['clusterrole', 'phigate-controller'], ['validatingadmissionpolicy', 'phigate-approval-decisions'], ['deployment', 'phigate-controller', '-n', NS], ['prometheusrule', 'phigate', '-n', NS]]) {
      await waitFor(`${what.join(' ')} deleted`, async () => (await cp.kubectl(['get', ...what])).status !== 0, 20_000);
    }
    await cp.kubectlOk(['get', 'crd', 'accesspolicies.phigate.io', 'approvalrequests.phigate.io']);
  });

  it('the proposed chart-generated install.yaml applies in one pass with kubectl apply --server-side', async () => {
    const proposal = await installFromChart(h);
    const out = await cp.kubectlOk(['apply', '--server-side', '-f', '-'], { input: proposal });
    assert.equal(out.trim().split('\n').length, parseObjects(proposal).length, out);
    const approver = await json(['get', 'clusterrole', 'phigate-approver']);
    assert.ok(approver.rules.some((x: any) => x.resources.includes('approvalrequests/status') && x.verbs.includes('get') && x.verbs.includes('patch')));
    await cp.kubectlOk(['get', 'deployment', 'phigate-controller', '-n', NS]);
  });
});
