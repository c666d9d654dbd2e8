import { render as renderGateway, DEFAULT_GATEWAY_RESOURCES, DEFAULT_GATEWAY_POD_SECURITY, DEFAULT_GATEWAY_SECURITY } from '../../../src/controller/accesspolicy/render.ts';
import { gatewayDefaults } from '../../../src/cli/controller.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import type { AccessPolicy } from '../../../src/api/types.ts';
import { CONFIG_HASH_ANNOTATION, MANAGED_SELECTOR, render, SELECTOR_LABELS, type RenderOptions } from '../../../src/controller/accesspolicy/render.ts';

const opts: RenderOptions = { image: 'ghcr.io/phigate/phigate:0.1.0', replicas: 2, version: '0.1.0' };
const policy = (name: string, uid: string): AccessPolicy => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy',
  metadata: { name, namespace: 'team-a', uid, generation: 1 },
  spec: { warehouse: { type: 'duckdb', duckdb: { path: ':demo:' } }, subjects: [{ kind: 'User', name: 'a' }], access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }] } },
});
const byKind = (objs: { kind: string }[], kind: string) => objs.find((o) => o.kind === kind) as any;

describe('render', () => {
  const one = render('team-a', [policy('claims', 'u1')], opts);

  it('makes one of each gateway object in the namespace, plus the TokenReview binding', () => {
    assert.deepEqual(one.namespaced.map((o) => o.kind), ['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Service', 'Deployment']);
    assert.ok(one.namespaced.every((o) => o.metadata.name === 'phigate-gateway' && o.metadata.namespace === 'team-a'));
    assert.deepEqual(one.cluster.map((o) => `${o.kind}/${o.metadata.name}`), ['ClusterRoleBinding/phigate-gateway-team-a']);
    assert.equal(one.serviceAddress, 'phigate-gateway.team-a.svc:8443');
  });

  it('owns every namespaced object by the policy and labels everything as app.kubernetes.io/*', () => {
    for (const o of one.namespaced) {
      assert.deepEqual(o.metadata.ownerReferences, [{ apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', name: 'claims', uid: 'u1' }]);
    }
    for (const o of [...one.namespaced, ...one.cluster]) {
      const l = o.metadata.labels!;
      assert.equal(l['app.kubernetes.io/name'], 'phigate');
      assert.equal(l['app.kubernetes.io/component'], 'gateway');
      assert.equal(l['app.kubernetes.io/managed-by'], 'phigate-controller');
      assert.equal(l['app.kubernetes.io/part-of'], 'phigate');
      assert.equal(l['app.kubernetes.io/version'], '0.1.0');
      // The controller finds what to delete with this selector.
      for (const term of MANAGED_SELECTOR.split(',')) { const [k, v] = term.split('='); assert.equal(l[k!], v); }
    }
    assert.equal(one.cluster[0]!.metadata.ownerReferences, undefined, 'a cluster-scoped object cannot have a namespaced owner');
  });

  it('serves several policies of a namespace with one gateway owned by all of them, in a stable order', () => {
    const a = render('team-a', [policy('zeta', 'u2'), policy('alpha', 'u1')], opts);
    const b = render('team-a', [policy('alpha', 'u1'), policy('zeta', 'u2')], opts);
    assert.deepEqual(a, b);
    assert.deepEqual(byKind(a.namespaced, 'Deployment').metadata.ownerReferences.map((r: any) => r.name), ['alpha', 'zeta']);
    assert.match(byKind(a.namespaced, 'ConfigMap').data['gateway.yaml'], /policies: \[alpha, zeta\]/);
  });

  it('does not restart the gateway when policies come and go (the pod template hash ignores the list)', () => {
    const a = byKind(render('team-a', [policy('alpha', 'u1')], opts).namespaced, 'Deployment');
    const b = byKind(render('team-a', [policy('alpha', 'u1'), policy('beta', 'u2')], opts).namespaced, 'Deployment');
    assert.deepEqual(a.spec.template, b.spec.template);
    assert.match(a.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION], /^[0-9a-f]{16}$/);
  });

  it('runs the gateway locked down, as its own ServiceAccount, on the selector the Service uses', () => {
    const d = byKind(one.namespaced, 'Deployment');
    const s = byKind(one.namespaced, 'Service');
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.spec.selector.matchLabels, SELECTOR_LABELS);
    assert.deepEqual(s.spec.selector, SELECTOR_LABELS);
    for (const [k, v] of Object.entries(SELECTOR_LABELS)) assert.equal(d.spec.template.metadata.labels[k], v);
    const pod = d.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'phigate-gateway');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const c = pod.containers[0];
    assert.equal(c.image, opts.image);
    assert.deepEqual(c.args.slice(0, 3), ['gateway', '--config', '/etc/phigate/gateway.yaml']);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(s.spec.ports[0].port, 8443);
  });

  it('grants the gateway only its namespace: read policies, create and claim ApprovalRequests; no Secret when none is named', () => {
    const role = byKind(one.namespaced, 'Role');
    const verbs = (res: string) => role.rules.filter((r: any) => r.resources.includes(res)).flatMap((r: any) => r.verbs).sort();
    assert.deepEqual(verbs('accesspolicies'), ['get', 'list', 'watch']);
    assert.deepEqual(verbs('secrets'), [], 'a rule with no resourceNames would grant every Secret of the namespace');
    assert.deepEqual(verbs('approvalrequests'), ['create', 'get', 'list', 'watch']);
    assert.deepEqual(verbs('approvalrequests/status'), ['get', 'patch', 'update']);
    assert.ok(!role.rules.some((r: any) => r.verbs.includes('delete') || r.verbs.includes('*') || r.resources.includes('*')));
    const rb = byKind(one.namespaced, 'RoleBinding');
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'phigate-gateway', namespace: 'team-a' }]);
    assert.equal(one.cluster[0]!.roleRef && (one.cluster[0] as any).roleRef.name, 'phigate-gateway-tokenreview');
  });

  it('lets the gateway read only the Secrets its policies name, and nothing of a Secret named by no policy', () => {
    const withSecrets = (name: string, uid: string, spec: Partial<AccessPolicy['spec']>): AccessPolicy => {
      const p = policy(name, uid);
      return { ...p, spec: { ...p.spec, ...spec } };
    };
    const hashed = withSecrets('claims', 'u1', { masking: { rules: [{ columns: ['PATIENTS.MRN'], strategy: 'hash' }], hashKeySecretRef: { name: 'hash-key' } } } as any);
    const snow = withSecrets('billing', 'u2', { warehouse: { type: 'snowflake', snowflake: { account: 'xy12345', warehouse: 'WH', database: 'DB', schema: 'PUBLIC', credentialsSecretRef: { name: 'sf-creds' } } } } as any);
    const both = render('team-a', [hashed, snow], opts);
    const rules = byKind(both.namespaced, 'Role').rules.filter((r: any) => r.resources.includes('secrets'));
    assert.deepEqual(rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['hash-key', 'sf-creds'], verbs: ['get', 'list', 'watch'] }]);
    // A policy removed takes its Secret out of the Role.
    const left = byKind(render('team-a', [hashed], opts).namespaced, 'Role').rules.filter((r: any) => r.resources.includes('secrets'));
    assert.deepEqual(left[0].resourceNames, ['hash-key']);
  });

  it('refuses to render a gateway for no policy', () => {
    assert.throws(() => render('team-a', [], opts), /at least one/);
  });
});

describe('gateway pod defaults from the chart (PHIGATE_GATEWAY_DEFAULTS)', () => {
  const policy = { apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p', namespace: 'ns', uid: 'u1', generation: 1 }, spec: { warehouse: { type: 'duckdb', duckdb: { path: ':demo:' } }, subjects: [], access: { statements: ['SELECT'], tables: [] } } } as any;
  const podOf = (r: ReturnType<typeof renderGateway>) => (r.namespaced.find((o) => o.kind === 'Deployment') as any).spec.template.spec;
  it('uses the built-in resources and security contexts when none are given', () => {
    const pod = podOf(renderGateway('ns', [policy], { image: 'img', replicas: 1, version: '0' }));
    assert.deepEqual(pod.containers[0].resources, DEFAULT_GATEWAY_RESOURCES);
    assert.deepEqual(pod.securityContext, DEFAULT_GATEWAY_POD_SECURITY);
    assert.deepEqual(pod.containers[0].securityContext, DEFAULT_GATEWAY_SECURITY);
  });
  const quiet = { info: () => {} };
  it('applies the chart values the controller reads from its environment', () => {
    const defaults = gatewayDefaults(JSON.stringify({
      imagePullPolicy: 'Always', resources: { limits: { memory: '2Gi' } }, podSecurityContext: { runAsNonRoot: true, runAsUser: 1000 },
      securityContext: { readOnlyRootFilesystem: true },
    }), quiet);
    const pod = podOf(renderGateway('ns', [policy], { image: 'img', replicas: 1, version: '0', ...defaults }));
    assert.deepEqual(pod.containers[0].resources, { limits: { memory: '2Gi' } });
    assert.equal(pod.containers[0].imagePullPolicy, 'Always');
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(defaults.oidc, undefined);
  });
  it('refuses malformed defaults instead of dropping a security context', () => {
    assert.throws(() => gatewayDefaults('{not json', quiet), /not valid JSON/);
    assert.throws(() => gatewayDefaults('[]', quiet), /JSON object/);
  });
});

describe('OIDC settings from the chart (PHIGATE_GATEWAY_DEFAULTS oidc)', () => {
  // What the chart's _helpers.tpl passes with oidc.enabled=true and its default values.
  const chartOidc = { issuerUrl: 'https://login.example.com/realms/agents', audience: 'phigate', jwksUrl: '', usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' };
  const resolved = { issuerUrl: 'https://login.example.com/realms/agents', audience: 'phigate', usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' };
  const quiet = { info: () => {} };
  const withOidc = (oidc: unknown) => gatewayDefaults(JSON.stringify({ imagePullPolicy: 'IfNotPresent', oidc }), quiet);
  const objectsOf = (oidc?: typeof resolved & { jwksUrl?: string }) => render('team-a', [policy('claims', 'u1')], { ...opts, ...(oidc ? { oidc } : {}) }).namespaced;

  it('parses the chart values, drops an empty jwksUrl, and says what gateways will accept', () => {
    const said: string[] = [];
    assert.deepEqual(gatewayDefaults(JSON.stringify({ oidc: chartOidc }), { info: (m) => said.push(m) }).oidc, resolved);
    assert.match(said.join(), /OIDC tokens from https:\/\/login.example.com\/realms\/agents \(audience phigate\) as users oidc:<sub>/);
    assert.equal(withOidc({ ...chartOidc, jwksUrl: 'https://login.example.com/keys' }).oidc?.jwksUrl, 'https://login.example.com/keys');
    assert.equal(withOidc(null).oidc, undefined);
  });

  it('stops the controller on OIDC settings that cannot work, naming the chart value to fix', () => {
    assert.throws(() => withOidc({ ...chartOidc, issuerUrl: '' }), /oidc.issuerUrl is required.*Fix the chart value\(s\) oidc.issuerUrl/);
    assert.throws(() => withOidc({ ...chartOidc, issuerUrl: 'http://login.example.com' }), /oidc.issuerUrl must be an https URL.*Fix the chart value\(s\) oidc.issuerUrl/);
    assert.throws(() => withOidc({ ...chartOidc, jwksUrl: 'ftp://x' }), /oidc.jwksUrl must be an https URL/);
    assert.throws(() => withOidc({ ...chartOidc, audience: '', groupsPrefix: 'system:' }), /oidc.audience is required.*oidc.groupsPrefix must not start with system:.*Fix the chart value\(s\) oidc.audience, oidc.groupsPrefix/);
    assert.throws(() => withOidc('https://login.example.com'), /oidc must be an object/);
  });

  it('writes the settings into the gateway ConfigMap as auth.oidc, beside TokenReview', () => {
    const cm = byKind(objectsOf(resolved), 'ConfigMap');
    const config = parseYaml(cm.data['gateway.yaml']);
    assert.deepEqual(config.auth, { tokenReview: { audience: 'phigate' }, oidc: resolved });
    const none = parseYaml(byKind(objectsOf(), 'ConfigMap').data['gateway.yaml']);
    assert.deepEqual(none.auth, { tokenReview: { audience: 'phigate' } }, 'no OIDC unless configured');
    const odd = { ...resolved, usernamePrefix: 'a: "b", {c}#' };
    assert.equal(parseYaml(byKind(objectsOf(odd), 'ConfigMap').data['gateway.yaml']).auth.oidc.usernamePrefix, 'a: "b", {c}#', 'values are quoted');
  });

  it('rolls the gateways when the OIDC settings change (config hash), and not otherwise', () => {
    const hash = (oidc?: typeof resolved & { jwksUrl?: string }) => byKind(objectsOf(oidc), 'Deployment').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    assert.notEqual(hash(resolved), hash());
    assert.notEqual(hash({ ...resolved, audience: 'other' }), hash(resolved));
    assert.notEqual(hash({ ...resolved, jwksUrl: 'https://login.example.com/keys' }), hash(resolved));
    assert.equal(hash({ ...resolved }), hash(resolved));
  });

  it('carries a CA bundle from the chart to the gateway unchanged, and rolls the gateways when it changes', async () => {
    const { oidcSettings } = await import('../../../src/cli/gateway.ts');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBgDCCASWgAwIBAgIU\n-----END CERTIFICATE-----\n';
    assert.equal(withOidc({ ...chartOidc, caBundle: '' }).oidc?.caBundle, undefined, 'the chart default (empty) means the system trust store');
    const fromChart = withOidc({ ...chartOidc, caBundle: pem }).oidc!;
    const cm = byKind(objectsOf(fromChart), 'ConfigMap');
    assert.equal(oidcSettings(parseYaml(cm.data['gateway.yaml']), {})?.caBundle, pem, 'what the gateway reads from gateway.yaml');
    const hash = (oidc: typeof resolved) => byKind(objectsOf(oidc), 'Deployment').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    assert.notEqual(hash(fromChart), hash(resolved));
    assert.throws(() => withOidc({ ...chartOidc, caBundle: 'not pem' }), /oidc.caBundle must be PEM certificates.*Fix the chart value\(s\) oidc.caBundle/);
  });
});
