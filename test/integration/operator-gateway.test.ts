// The gateway in cluster mode, as a local process running with its own ServiceAccount's
// token (so the Role the controller rendered is what it has): an agent with a
// ServiceAccount token for audience phigate queries; other audiences and other namespaces
// are refused; a statement needing approval becomes an ApprovalRequest, `kubectl phigate
// approve` approves it and the agent gets the rows, once; policy edits are served without a
// restart, and a bad edit keeps the last good version and says so in the policy's status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { installOperator, PLUGIN_PATH, startController, startGatewayProcess, type ControllerProcess, type GatewayProcess } from '../helpers/operator.ts';

const NS = 'team-a';
const policy = (masking: string) => `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: claims, namespace: ${NS} }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: ServiceAccount, name: coding-agent, namespace: ${NS} } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
  masking: ${masking}
  approval:
    requiredWhen: [ { unmasked: [PATIENTS.SSN] } ]
    approvers: [ { kind: Group, name: privacy-office }, { kind: User, name: "system:serviceaccount:team-a:reviewer" } ]
    ttl: 10m
`;
const REDACT = '{ rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }';
const PARTIAL = '{ rules: [ { columns: [PATIENTS.SSN], strategy: partial, keep: 4 } ] }';
const SQL = 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 2';

let cp: ControlPlane;
let ctl: ControllerProcess;
let gw: GatewayProcess;
let url = '';
let agentToken = '';

const token = async (sa: string, ns: string, audience?: string) =>
  (await cp.kubectlOk(['create', 'token', sa, '-n', ns, '--duration', '1h', ...(audience ? ['--audience', audience] : [])])).trim();
const post = async (bearer: string, body: object) => {
  const r = await fetch(`${url}/api/v2/statements`, { method: 'POST', headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) as any };
};
const poll = async (handle: string) => {
  const r = await fetch(`${url}/api/v2/statements/${handle}`, { headers: { Authorization: `Bearer ${agentToken}` } });
  return { status: r.status, json: await r.json().catch(() => null) as any };
};
const getJson = async (args: string[]) => JSON.parse(await cp.kubectlOk([...args, '-o', 'json']));
const loaded = (p: any) => p.status?.conditions?.find((c: any) => c.type === 'Loaded');

before(async () => {
  cp = await startControlPlane();
  await installOperator(cp);
  await cp.kubectlOk(['create', 'clusterrolebinding', 'reviewers', '--clusterrole=phigate-approver', '--group=privacy-office']);
  for (const ns of [NS, 'team-b']) await cp.kubectlOk(['create', 'namespace', ns]);
  await cp.kubectlOk(['create', 'serviceaccount', 'coding-agent', '-n', NS]);
  await cp.kubectlOk(['create', 'serviceaccount', 'coding-agent', '-n', 'team-b']);
  await cp.kubectlOk(['create', 'serviceaccount', 'reviewer', '-n', NS]);
  await cp.kubectlOk(['apply', '-f', '-'], { input: policy(REDACT) });
  ctl = await startController(cp);
  gw = await startGatewayProcess(cp, NS);
  url = gw.url;
  agentToken = await token('coding-agent', NS, 'phigate');
});

after(async () => {
  gw?.proc.kill('SIGKILL');
  await ctl?.stop('SIGKILL');
  await cp?.stop();
});

describe('gateway in cluster mode', () => {
  it('serves an agent that presents a ServiceAccount token for audience phigate', async () => {
    const r = await post(agentToken, { statement: SQL });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.map((row: string[]) => row[1]), ['[REDACTED]', '[REDACTED]']);
    assert.match(gw.log(), /serving AccessPolicy team-a\/claims generation 1/);
    const p = await waitFor('Loaded condition', async () => { const x = await getJson(['get', 'accesspolicy', 'claims', '-n', NS]); return loaded(x) ? x : undefined; });
    assert.deepEqual([loaded(p).status, loaded(p).reason], ['True', 'Loaded']);
    assert.ok(p.status.conditions.some((c: any) => c.type === 'Valid'), 'the controller\'s conditions stay beside the gateway\'s');
  });

  it('refuses a token for another audience, a ServiceAccount of another namespace, and no token', async () => {
    assert.equal((await post(await token('coding-agent', NS), { statement: SQL })).status, 401, 'the API server\'s own audience');
    assert.equal((await post(await token('coding-agent', 'team-b', 'phigate'), { statement: SQL })).status, 401, 'another namespace');
    assert.equal((await post('not-a-token', { statement: SQL })).status, 401);
    assert.match(gw.log(), /refused: a ServiceAccount of namespace team-b, not team-a/);
    const other = await post(await token('phigate-gateway', NS, 'phigate'), { statement: SQL });
    assert.deepEqual([other.status, other.json.rule], [403, 'no_policy'], 'authenticated, but no policy names it');
  });

  it('turns a statement that needs approval into an ApprovalRequest; an approver approves; the agent gets the rows once', async () => {
    const asked = await post(agentToken, { statement: SQL, unmask: ['PATIENTS.SSN'], justification: 'ticket DATA-412' });
    assert.equal(asked.status, 202, JSON.stringify(asked.json));
    const name = asked.json.approvalRequest;
    const ar = await getJson(['get', 'approvalrequest', name, '-n', NS]);
    assert.equal(ar.spec.requester.user, 'system:serviceaccount:team-a:coding-agent');
    assert.deepEqual(ar.spec.approvers, [{ kind: 'Group', name: 'privacy-office' }, { kind: 'User', name: 'system:serviceaccount:team-a:reviewer' }]);
    assert.equal(ar.spec.justification, 'ticket DATA-412');
    assert.equal((await poll(asked.json.statementHandle)).status, 202, 'still pending');

    // Deciding through the gateway would be the gateway's ServiceAccount deciding: the API server refuses.
    const viaGateway = await fetch(`${url}/api/v1/approvals/${name}/review`, { method: 'POST', headers: { Authorization: `Bearer ${await token('reviewer', NS, 'phigate')}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ decision: 'Approved', reason: 'via gateway' }) });
    const refusal = await viaGateway.json() as any;
    assert.equal(viaGateway.status, 403, JSON.stringify(refusal));
    assert.match(refusal.message, /the API server refused .*; in a cluster, approvers decide with kubectl phigate approve/);

    const approve = await cp.kubectl(['phigate', 'approve', name, '-n', NS, '--context', 'bob', '--reason', 'ticket DATA-412'], { env: { PATH: PLUGIN_PATH }, plugin: true });
    assert.equal(approve.status, 0, approve.stderr);
    await waitFor('Approved', async () => (await getJson(['get', 'approvalrequest', name, '-n', NS])).status?.phase === 'Approved');
    // The gateway learns of the decision from its watch, which may trail kubectl by a moment.
    const run = await waitFor('the poll to stop answering 202', async () => { const r = await poll(asked.json.statementHandle); return r.status === 202 ? undefined : r; });
    assert.equal(run.status, 200, JSON.stringify(run.json));
    assert.ok(run.json.data.every((row: string[]) => /^\d{3}-\d{2}-\d{4}$/.test(row[1]!)), 'approved column in clear');
    assert.equal((await getJson(['get', 'approvalrequest', name, '-n', NS])).status.phase, 'Executed');
    assert.equal((await poll(asked.json.statementHandle)).status, 410, 'used once');
  });

  it('serves an edited policy without a restart', async () => {
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy(PARTIAL) });
    await waitFor('generation 2 served', async () => /serving AccessPolicy team-a\/claims generation 2/.test(gw.log()), 20_000);
    const r = await post(agentToken, { statement: SQL });
    assert.ok(r.json.data.every((row: string[]) => /^\*+\d{4}$/.test(row[1]!)), JSON.stringify(r.json.data));
  });

  it('keeps serving the last good version when an edit cannot be loaded, and says why in the status', async () => {
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('{ rules: [ { columns: [PATIENTS.SSN], strategy: hash } ], hashKeySecretRef: { name: missing } }') });
    const p = await waitFor('LoadFailed', async () => {
      const x = await getJson(['get', 'accesspolicy', 'claims', '-n', NS]);
      return loaded(x)?.reason === 'LoadFailed' ? x : undefined;
    }, 20_000);
    assert.match(loaded(p).message, /generation 3 could not be loaded: .*Secret team-a\/missing.*; still serving generation 2/);
    const r = await post(agentToken, { statement: SQL });
    assert.equal(r.status, 200);
    assert.ok(r.json.data.every((row: string[]) => /^\*+\d{4}$/.test(row[1]!)), 'generation 2 masking still applies');
  });

  it('reads only the Secrets its policies name, and follows one created later without a restart', async () => {
    const can = async (verb: string, what: string) =>
      (await cp.kubectl(['auth', 'can-i', verb, what, '-n', NS, '--as', `system:serviceaccount:${NS}:phigate-gateway`])).stdout.trim();
    await waitFor('Role names Secret missing', async () => (await can('get', 'secret/missing')) === 'yes');
    assert.equal(await can('watch', 'secret/missing'), 'yes');
    assert.equal(await can('get', 'secret/unrelated'), 'no', 'a Secret no policy names');
    assert.equal(await can('list', 'secrets'), 'no', 'listing the namespace would reveal every Secret');

    await cp.kubectlOk(['create', 'secret', 'generic', 'missing', '-n', NS, '--from-literal=hashKey=fedcba9876543210fedcba9876543210']);
    await waitFor('generation 3 served', async () => /serving AccessPolicy team-a\/claims generation 3/.test(gw.log()), 20_000);
    const p = await waitFor('Loaded', async () => {
      const x = await getJson(['get', 'accesspolicy', 'claims', '-n', NS]);
      return loaded(x)?.reason === 'Loaded' ? x : undefined;
    }, 20_000);
    assert.match(loaded(p).message, /generation 3 is served/);
    const r = await post(agentToken, { statement: SQL });
    assert.equal(r.status, 200);
    assert.ok(r.json.data.every((row: string[]) => !/\d{3}-\d{2}-\d{4}/.test(row[1]!) && !/^\*+\d{4}$/.test(row[1]!)), 'generation 3 hashes the SSN');
  });
});
