// A cluster gateway waiting on an ApprovalRequest follows a watch, not repeated reads. Two
// gateway processes (replicas, each with its own ServiceAccount token as in their pods) in
// one namespace of a real kube-apiserver: polling a pending statement sends no GET or LIST of
// approvalrequests to the API server (counted by the gateway's own
// phigate_kube_api_requests_total); an approver's `kubectl patch` reaches a waiting driver
// long poll as the watch delivers it; and an approval executes once even when both replicas
// race to claim it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, startControlPlane, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { installOperator, metricValue, startController, startGatewayProcess, type ControllerProcess, type GatewayProcess } from '../helpers/operator.ts';

const NS = 'team-a';
const POLICY = `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: claims, namespace: ${NS} }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: ServiceAccount, name: coding-agent, namespace: ${NS} } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }
  approval:
    requiredWhen: [ { unmasked: [PATIENTS.SSN] } ]
    approvers: [ { kind: Group, name: privacy-office } ]
    ttl: 10m
`;
// One statement per scenario: an approval is bound to its statement's fingerprint.
const sql = (n: number) => `SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT ${n}`;
const SSN = /^\d{3}-\d{2}-\d{4}$/;

type Gateway = GatewayProcess;

let cp: ControlPlane;
let ctl: ControllerProcess;
let gwA: Gateway;
let gwB: Gateway;
let agentToken = '';

const post = async (gw: Gateway, body: object) => {
  const r = await fetch(`${gw.url}/api/v2/statements`, { method: 'POST', headers: { Authorization: `Bearer ${agentToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() as any };
};
const poll = async (gw: Gateway, handle: string) => {
  const r = await fetch(`${gw.url}/api/v2/statements/${handle}`, { headers: { Authorization: `Bearer ${agentToken}` } });
  return { status: r.status, json: await r.json() as any };
};
/** The approval as this replica sees it (its cache), through the requester's approvals API. */
const seenBy = async (gw: Gateway, name: string) => {
  const r = await fetch(`${gw.url}/api/v1/approvals/${name}`, { headers: { Authorization: `Bearer ${agentToken}` } });
  return r.status === 200 ? await r.json() as any : undefined;
};
/** The gateway's own count of its requests for approvalrequests, by verb. */
async function approvalReads(gw: Gateway) {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const count = (verb: string) => metricValue(text, 'phigate_kube_api_requests_total', { verb, resource: 'approvalrequests' }) ?? 0;
  return { get: count('get'), list: count('list'), watch: count('watch') };
}
const kubectlJson = async (args: string[]) => JSON.parse(await cp.kubectlOk([...args, '-o', 'json']));
const phaseIs = (name: string, phase: string) =>
  waitFor(`${name} ${phase}`, async () => (await kubectlJson(['get', 'approvalrequest', name, '-n', NS])).status?.phase === phase, 20_000);
/** What an approver does by hand: a merge patch of the status subresource. */
async function approve(name: string) {
  const r = await cp.kubectl(['patch', 'approvalrequest', name, '-n', NS, '--subresource=status', '--type=merge',
    '-p', JSON.stringify({ status: { decision: 'Approved', decidedBy: 'bob@example.com', reason: 'ticket DATA-412' } })], { as: 'bob' });
  assert.equal(r.status, 0, r.stderr);
}

before(async () => {
  cp = await startControlPlane();
  await installOperator(cp);
  await cp.kubectlOk(['create', 'clusterrolebinding', 'reviewers', '--clusterrole=phigate-approver', '--group=privacy-office']);
  await cp.kubectlOk(['create', 'namespace', NS]);
  await cp.kubectlOk(['create', 'serviceaccount', 'coding-agent', '-n', NS]);
  await cp.kubectlOk(['apply', '-f', '-'], { input: POLICY });
  ctl = await startController(cp);
  // One after the other: the first fills the demo dataset cache if it is cold.
  gwA = await startGatewayProcess(cp, NS);
  gwB = await startGatewayProcess(cp, NS);
  agentToken = (await cp.kubectlOk(['create', 'token', 'coding-agent', '-n', NS, '--duration', '1h', '--audience', 'phigate'])).trim();
});

after(async () => {
  gwA?.proc.kill('SIGKILL');
  gwB?.proc.kill('SIGKILL');
  await ctl?.stop('SIGKILL');
  await cp?.stop();
});

describe('a gateway waiting on an ApprovalRequest', () => {
  let handle = '';
  let name = '';

  it('creates the ApprovalRequest, with the policy\'s approvers copied into spec', async () => {
    const asked = await post(gwA, { statement: sql(2), unmask: ['PATIENTS.SSN'], justification: 'ticket DATA-412' });
    assert.equal(asked.status, 202, JSON.stringify(asked.json));
    [handle, name] = [asked.json.statementHandle, asked.json.approvalRequest];
    const ar = await kubectlJson(['get', 'approvalrequest', name, '-n', NS]);
    assert.equal(ar.spec.requester.user, `system:serviceaccount:${NS}:coding-agent`);
    assert.deepEqual(ar.spec.approvers, [{ kind: 'Group', name: 'privacy-office' }]);
    assert.equal(ar.status.phase, 'Pending');
  });

  it('answers repeated polls from its watch: no GET or LIST of approvalrequests after the informer synced', async () => {
    const before = await approvalReads(gwA);
    assert.equal(before.list, 1, 'one LIST: the informer\'s first, before the gateway was ready');
    // At most one GET so far: creating the request writes its status, and when the controller
    // wrote it first (409) the gateway reads the winner once.
    assert.ok(before.get <= 1, `${before.get} GETs before polling`);
    assert.ok(before.watch >= 1, 'the watch is one long request');
    for (let i = 0; i < 10; i++) {
      const r = await poll(gwA, handle);
      assert.equal(r.status, 202, JSON.stringify(r.json));
      assert.equal(r.json.approvalRequest, name);
    }
    const afterPolls = await approvalReads(gwA);
    assert.deepEqual([afterPolls.get, afterPolls.list], [before.get, before.list], '10 polls, no reads of the API server');
  });

  it('after an approver\'s kubectl patch, the next poll gets the rows, once', async () => {
    await approve(name);
    await phaseIs(name, 'Approved');
    // The gateway learns of the decision from its watch, which may trail kubectl by a moment.
    const run = await waitFor('the poll to stop answering 202', async () => { const r = await poll(gwA, handle); return r.status === 202 ? undefined : r; });
    assert.equal(run.status, 200, JSON.stringify(run.json));
    assert.ok(run.json.data.every((row: string[]) => SSN.test(row[1]!)), 'the approved column in clear');
    assert.equal((await kubectlJson(['get', 'approvalrequest', name, '-n', NS])).status.phase, 'Executed');
    assert.equal((await poll(gwA, handle)).status, 410, 'used once');
    assert.equal((await approvalReads(gwA)).list, 1);
  });
});

describe('a driver long poll', () => {
  const driver = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const r = await fetch(`${gwA.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Snowflake Token="${init.token}"` } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    return r.json() as Promise<any>;
  };

  it('wakes when the watch delivers the decision, well within its window, having read nothing while it waited', async () => {
    const login = await driver('/session/v1/login-request', { method: 'POST', body: { data: { LOGIN_NAME: 'agent', PASSWORD: agentToken, CLIENT_APP_ID: 'raw-test' } } });
    assert.equal(login.success, true, JSON.stringify(login));
    const s = login.data.token as string;
    const q = await driver('/queries/v1/query-request', { method: 'POST', token: s, body: { sqlText: sql(3), asyncExec: true, parameters: { PHIGATE_UNMASK: 'PATIENTS.SSN' } } });
    assert.equal(q.success, true, JSON.stringify(q));
    const id = q.data.queryId as string;
    const blocked = await waitFor('statement BLOCKED', async () => {
      const m = (await driver(`/monitoring/queries/${id}`, { token: s })).data.queries[0];
      return m?.status === 'BLOCKED' ? m : undefined;
    });
    const approval = /waiting for approval (\S+)/.exec(blocked.errorMessage)![1]!;

    const before = await approvalReads(gwA);
    const longPoll = driver(`/queries/${id}/result`, { token: s });
    let answered = false;
    void longPoll.then(() => { answered = true; });
    await sleep(2000); // the old loop re-read the request every 250 ms here
    assert.equal(answered, false, 'still waiting for the decision');
    const parked = await approvalReads(gwA);
    assert.deepEqual([parked.get, parked.list], [before.get, before.list], 'no reads while the long poll waits');

    const decided = Date.now();
    await approve(approval);
    const r = await longPoll;
    const took = Date.now() - decided;
    assert.equal(r.success, true, JSON.stringify(r));
    assert.ok(r.data.rowset.length === 3 && r.data.rowset.every((row: string[]) => SSN.test(row[1]!)), JSON.stringify(r.data.rowset));
    // The long poll's window is 10 s and it had 8 s left: it answered because the decision
    // arrived (kubectl patch, the controller's phase, the watch), not because time ran out.
    assert.ok(took < 6000, `answered ${took} ms after the decision`);
    assert.equal((await approvalReads(gwA)).list, before.list);
  });
});

describe('two gateway replicas', () => {
  it('share one ApprovalRequest; when both claim it at once, exactly one executes', async () => {
    const a = await post(gwA, { statement: sql(4), unmask: ['PATIENTS.SSN'] });
    assert.equal(a.status, 202, JSON.stringify(a.json));
    const name = a.json.approvalRequest as string;
    await waitFor('replica B sees the request', () => seenBy(gwB, name));
    const b = await post(gwB, { statement: sql(4), unmask: ['PATIENTS.SSN'] });
    assert.equal(b.status, 202, JSON.stringify(b.json));
    assert.equal(b.json.approvalRequest, name, 'B waits on the request A created');

    await approve(name);
    await phaseIs(name, 'Approved');
    for (const gw of [gwA, gwB]) await waitFor('replica sees Approved', async () => (await seenBy(gw, name))?.status?.phase === 'Approved');
    const [ra, rb] = await Promise.all([poll(gwA, a.json.statementHandle), poll(gwB, b.json.statementHandle)]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 410], `A: ${JSON.stringify(ra.json)} B: ${JSON.stringify(rb.json)}`);
    const loser = ra.status === 410 ? ra : rb;
    assert.equal(loser.json.rule, 'approval_used');
    assert.equal((await kubectlJson(['get', 'approvalrequest', name, '-n', NS])).status.phase, 'Executed');
    const executed = [...gwA.audit(), ...gwB.audit()].map((l) => JSON.parse(l))
      .filter((r) => r.event === 'approval' && r.action === 'executed' && r.approval?.name === name);
    assert.equal(executed.length, 1, 'one execution in the audit logs of both replicas');
    // Replica B made no GET for its reads; the only one allowed is the fresh read after losing a 409.
    assert.ok((await approvalReads(gwB)).get <= 1);
    assert.equal((await approvalReads(gwB)).list, 1);
  });
});
