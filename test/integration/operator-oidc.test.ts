// OIDC login end to end, against the real kube-apiserver and etcd: the chart's OIDC settings
// (PHIGATE_GATEWAY_DEFAULTS) reach the controller, which renders them into the gateway's
// ConfigMap; `phigate gateway` runs with that very gateway.yaml as its own ServiceAccount,
// and a real identity provider on loopback (test/helpers/idp.ts) signs the agents' JWTs.
// User oidc:alice and Group oidc:analysts in an AccessPolicy get rows; the audit record names
// oidc:alice; ServiceAccount tokens still work; other issuers, wrong audiences and forged
// signatures get 401; an OIDC user the policy does not name gets 403.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startControlPlane, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { installOperator, startController, startGatewayProcess, type ControllerProcess, type GatewayProcess } from '../helpers/operator.ts';

const NS = 'team-a';
const POLICY = `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: claims, namespace: ${NS} }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects:
    - { kind: ServiceAccount, name: coding-agent, namespace: ${NS} }
    - { kind: User, name: "oidc:alice" }
    - { kind: Group, name: "oidc:analysts" }
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }
`;
const SQL = 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 2';

let cp: ControlPlane;
let ctl: ControllerProcess;
let idp: TestIdp;
let gw: GatewayProcess;
let url = '';

const token = async (sa: string, audience?: string) =>
  (await cp.kubectlOk(['create', 'token', sa, '-n', NS, '--duration', '1h', ...(audience ? ['--audience', audience] : [])])).trim();
const post = async (bearer: string) => {
  const r = await fetch(`${url}/api/v2/statements`, { method: 'POST', headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ statement: SQL }) });
  return { status: r.status, json: await r.json().catch(() => null) as any };
};
const auditRecords = () => gw.audit().filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

before(async () => {
  idp = await startIdp();
  cp = await startControlPlane();
  await installOperator(cp);
  await cp.kubectlOk(['create', 'namespace', NS]);
  await cp.kubectlOk(['create', 'serviceaccount', 'coding-agent', '-n', NS]);
  await cp.kubectlOk(['apply', '-f', '-'], { input: POLICY });

  // As the chart passes oidc.* values (an http issuer is allowed only on loopback).
  ctl = await startController(cp, [], {
    PHIGATE_GATEWAY_DEFAULTS: JSON.stringify({
      imagePullPolicy: 'IfNotPresent',
      oidc: { issuerUrl: idp.issuer, audience: 'phigate', jwksUrl: '', usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:', caBundle: '' },
    }),
  });
  await ctl.waitForLog(/gateways accept OIDC tokens from http:\/\/127\.0\.0\.1:\d+ \(audience phigate\)/);
  const cm = await waitFor('gateway ConfigMap', async () => {
    const r = await cp.kubectl(['get', 'configmap', 'phigate-gateway', '-n', NS, '-o', 'json']);
    return r.status === 0 ? JSON.parse(r.stdout) : undefined;
  });
  const config = join(cp.dir, 'gateway.yaml');
  writeFileSync(config, cm.data['gateway.yaml']);
  // The gateway runs with the controller's config, as its own ServiceAccount, as in its pod.
  gw = await startGatewayProcess(cp, NS, ['--config', config]);
  url = gw.url;
});

after(async () => {
  gw?.proc.kill('SIGKILL');
  await ctl?.stop('SIGKILL');
  await cp?.stop();
  await idp?.close();
});

describe('OIDC login to the cluster gateway', () => {
  it('renders the chart\'s OIDC settings into the gateway ConfigMap, which the gateway reads', async () => {
    const cm = JSON.parse(await cp.kubectlOk(['get', 'configmap', 'phigate-gateway', '-n', NS, '-o', 'json']));
    assert.deepEqual(parseYaml(cm.data['gateway.yaml']).auth, {
      tokenReview: { audience: 'phigate' },
      oidc: { issuerUrl: idp.issuer, audience: 'phigate', usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' },
    });
    assert.match(gw.log(), new RegExp(`OIDC login: issuer ${idp.issuer.replace(/\./g, '\\.')}, audience phigate`));
  });

  it('serves User oidc:alice with a JWT from the identity provider, and audits her as oidc:alice', async () => {
    const r = await post(await idp.token({ sub: 'alice' }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.map((row: string[]) => row[1]), ['[REDACTED]', '[REDACTED]']);
    const rec = await waitFor('audit record', async () => auditRecords().find((a) => a.event === 'statement' && a.actor?.user === 'oidc:alice'));
    assert.equal(rec.decision.outcome, 'masked');
    assert.deepEqual(rec.actor.groups, []);
  });

  it('serves a member of Group oidc:analysts', async () => {
    const r = await post(await idp.token({ sub: 'bob', groups: ['analysts'] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const rec = await waitFor('audit record', async () => auditRecords().find((a) => a.event === 'statement' && a.actor?.user === 'oidc:bob'));
    assert.deepEqual(rec.actor.groups, ['oidc:analysts']);
  });

  it('still serves a ServiceAccount token for audience phigate (TokenReview)', async () => {
    const r = await post(await token('coding-agent', 'phigate'));
    assert.equal(r.status, 200, JSON.stringify(r.json));
  });

  it('refuses a JWT from another issuer, one for another audience, and one with a forged signature (401)', async () => {
    const other = await startIdp();
    try {
      assert.equal((await post(await other.token({ sub: 'alice' }))).status, 401, 'another issuer: TokenReview does not know it either');
    } finally { await other.close(); }
    assert.equal((await post(await idp.token({ sub: 'alice', aud: 'kubernetes' }))).status, 401, 'wrong audience');
    const forger = await idp.newKey('RS256', idp.published[0]!.kid);
    const forged = await idp.token({ sub: 'alice' }, forger);
    assert.equal((await post(forged)).status, 401, 'signed by a key the issuer does not publish');
    assert.equal((await post(await idp.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 600 }))).status, 401, 'expired');
    assert.match(gw.log(), /OIDC token refused: unexpected "aud" claim value/);
    assert.match(gw.log(), /OIDC token refused: signature verification failed/);
    assert.ok(!gw.log().includes(forged) && !gw.audit().join('\n').includes(forged), 'tokens are never logged');
    const unauth = auditRecords().filter((a) => a.decision?.outcome === 'unauthenticated');
    assert.ok(unauth.length >= 4, 'each refusal has its audit record');
  });

  it('refuses (403 no_policy) an OIDC user the policy does not name, even one called like a ServiceAccount', async () => {
    const mallory = await post(await idp.token({ sub: 'mallory', groups: ['interns'] }));
    assert.deepEqual([mallory.status, mallory.json.rule], [403, 'no_policy'], JSON.stringify(mallory.json));
    const posing = await post(await idp.token({ sub: `system:serviceaccount:${NS}:coding-agent`, groups: ['system:serviceaccounts'] }));
    assert.deepEqual([posing.status, posing.json.rule], [403, 'no_policy'], 'prefixed: oidc:system:serviceaccount:... is not the ServiceAccount');
  });
});
