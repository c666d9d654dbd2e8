// Just-in-time approval over real HTTP and the real `phigate approve|deny|approvals` binary.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { phigate } from '../helpers/cli.ts';
import { verifyAuditLog } from '../../src/audit/verify.ts';
import { UNMASKED_PLACEHOLDER } from '../../src/gateway/pipeline.ts';

const POLICIES = `
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: reviewed, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-1 }, { kind: User, name: agent-2 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 100 }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact }, { columns: [PATIENTS.DOB], strategy: year } ] }
  approval:
    requiredWhen: [ { unmasked: [PATIENTS.SSN] } ]
    approvers: [ { kind: Group, name: privacy } ]
    ttl: 10m
---
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: quorum, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-q } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 50 }
  approval:
    requiredWhen: [ { rowsOver: 100 }, { tables: [PATIENTS] } ]
    approvers: [ { kind: Group, name: privacy } ]
    requiredApprovals: 2
    ttl: 10m
---
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: shortlived, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-s } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ] }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }
  approval:
    requiredWhen: [ { unmasked: [PATIENTS.SSN] } ]
    approvers: [ { kind: User, name: rev-1 } ]
    ttl: 2s
`;
const TOKENS = [
  'tok-1,agent-1,u1,"agents"', 'tok-2,agent-2,u2,"agents"', 'tok-q,agent-q,u3,"agents"', 'tok-s,agent-s,u4,"agents"',
  'tok-r1,rev-1,u5,"privacy"', 'tok-r2,rev-2,u6,"privacy"', 'tok-out,mallory,u7,"others"',
].join('\n');

let gw: TestGateway;
before(async () => { gw = await startTestGateway(POLICIES, TOKENS); });
after(async () => { await gw?.close(); });

const SQL = 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 3';
const ask = (token = 'tok-1', sql = SQL, unmask: string[] | undefined = ['PATIENTS.SSN']) =>
  gw.post(token, { statement: sql, unmask, justification: 'reconcile duplicates, ticket DATA-1' });
const poll = (handle: string, token = 'tok-1') => gw.get(`/api/v2/statements/${handle}`, token);
const review = (verb: 'approve' | 'deny', name: string, token: string) =>
  phigate([verb, name, '--server', gw.url, '--token', token, '--reason', 'ticket DATA-1']);
const SSN = /^\d{3}-\d{2}-\d{4}$/;

describe('approval round trip', () => {
  it('202 names the request and what it waits for; the reviewer approves; one poll executes it, unmasked', async () => {
    const first = await ask();
    assert.equal(first.status, 202);
    assert.equal(first.json.code, '333334');
    const name = first.json.approvalRequest;
    assert.match(name, /^reviewed-[0-9a-f]{6}$/);
    assert.match(first.json.message, /unmasked PATIENTS\.SSN/);
    assert.match(first.json.message, /phigate approve/);
    assert.equal((await poll(first.json.statementHandle)).status, 202, 'still pending');

    const self = await review('approve', name, 'tok-1');
    assert.notEqual(self.status, 0);
    assert.match(self.stderr, /cannot review/);
    const outsider = await review('approve', name, 'tok-out');
    assert.notEqual(outsider.status, 0);
    const ok = await review('approve', name, 'tok-r1');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Approved/);
    const again = await review('deny', name, 'tok-r2');
    assert.notEqual(again.status, 0, 'a decision is write-once');
    assert.match(again.stderr, /already Approved/);

    const run = await poll(first.json.statementHandle);
    assert.equal(run.status, 200);
    const si = run.json.resultSetMetaData.rowType.findIndex((c: any) => c.name === 'ssn');
    assert.equal(run.json.data.length, 3);
    assert.ok(run.json.data.every((r: any) => SSN.test(r[si])), 'approved column in clear');

    assert.equal((await poll(first.json.statementHandle)).status, 410, 'results are not kept');
    const next = await ask();
    assert.equal(next.status, 202, 'a second execution needs a new approval');
    assert.notEqual(next.json.approvalRequest, name);
  });

  it('other columns stay masked under an approved unmask', async () => {
    const sql = 'SELECT ssn, dob FROM patients ORDER BY patient_id LIMIT 1';
    const p = await ask('tok-1', sql);
    assert.equal((await review('approve', p.json.approvalRequest, 'tok-r1')).status, 0);
    const r = await poll(p.json.statementHandle);
    assert.match(r.json.data[0][0], SSN);
    assert.equal(new Date(Number(r.json.data[0][1]) * 86_400_000).getUTCDate(), 1, 'dob still year-masked');
  });

  it('two pollers race: exactly one execution', async () => {
    const p = await ask();
    assert.equal((await review('approve', p.json.approvalRequest, 'tok-r2')).status, 0);
    const [a, b] = await Promise.all([poll(p.json.statementHandle), poll(p.json.statementHandle)]);
    const statuses = [a.status, b.status].sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses ${statuses}`);
    const executed = gw.records().filter((r) => r.event === 'approval' && r.action === 'executed' && r.approval.name === p.json.approvalRequest);
    assert.equal(executed.length, 1);
  });

  it('sending the byte-identical statement again after approval executes it once', async () => {
    const p = await ask();
    assert.equal((await review('approve', p.json.approvalRequest, 'tok-r1')).status, 0);
    const changed = await ask('tok-1', `${SQL} `);
    assert.equal(changed.status, 202, 'a changed statement never uses the approval');
    assert.notEqual(changed.json.approvalRequest, p.json.approvalRequest);
    const other = await ask('tok-2');
    assert.equal(other.status, 202, 'another requester never uses the approval');
    const same = await ask();
    assert.equal(same.status, 200);
    assert.equal((await ask()).status, 202);
  });

  it('a denied request never executes', async () => {
    const p = await ask();
    const d = await review('deny', p.json.approvalRequest, 'tok-r1');
    assert.equal(d.status, 0, d.stderr);
    const r = await poll(p.json.statementHandle);
    assert.equal(r.status, 403);
    assert.equal(r.json.rule, 'approval_denied');
  });

  it('a handle is bound to its requester', async () => {
    const p = await ask();
    assert.equal((await poll(p.json.statementHandle, 'tok-2')).status, 404);
    assert.equal((await poll(p.json.statementHandle, 'tok-out')).status, 404);
    assert.equal((await gw.get(`/api/v2/statements/${p.json.statementHandle}`)).status, 401);
  });

  it('pending requests expire after the ttl, audited', async () => {
    const p = await ask('tok-s');
    assert.equal(p.status, 202);
    await new Promise((r) => setTimeout(r, 3200));
    const r = await poll(p.json.statementHandle, 'tok-s');
    assert.equal(r.status, 403);
    assert.equal(r.json.rule, 'approval_expired');
    assert.ok(gw.records().some((x) => x.event === 'approval' && x.action === 'expired' && x.approval.name === p.json.approvalRequest));
    assert.notEqual((await review('approve', p.json.approvalRequest, 'tok-r1')).status, 0, 'an expired request cannot be approved');
  });
});

describe('conditions and quorum', () => {
  it('tables and rowsOver conditions, and a quorum of distinct approvers', async () => {
    const p = await gw.post('tok-q', { statement: 'SELECT patient_id FROM patients' });
    assert.equal(p.status, 202);
    assert.deepEqual(p.json.approval.reasons, ['table PATIENTS', 'rowsOver 100']);
    const name = p.json.approvalRequest;
    assert.equal((await review('approve', name, 'tok-r1')).status, 0);
    assert.equal((await poll(p.json.statementHandle, 'tok-q')).status, 202, 'one of two approvals');
    assert.notEqual((await review('approve', name, 'tok-r1')).status, 0, 'the same approver twice does not count');
    assert.equal((await review('approve', name, 'tok-r2')).status, 0);
    const r = await poll(p.json.statementHandle, 'tok-q');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 50, 'maxRows still applies');
    const small = await gw.post('tok-q', { statement: 'SELECT patient_id FROM patients LIMIT 5' });
    assert.deepEqual(small.json.approval.reasons, ['table PATIENTS'], 'rowsOver counts the rows before running');
  });

  it('approvals list shows requests to approvers and requesters only', async () => {
    const rev = await phigate(['approvals', 'list', '--server', gw.url, '--token', 'tok-r1']);
    assert.equal(rev.status, 0);
    assert.match(rev.stdout, /reviewed-[0-9a-f]{6}/);
    const out = await phigate(['approvals', 'list', '--server', gw.url, '--token', 'tok-out']);
    assert.match(out.stdout, /no approval requests/);
  });
});

describe('approval audit and metrics', () => {
  it('requested, reviewed and executed records link to statement records; no unmasked value is audited', () => {
    const recs = gw.records();
    const statements = new Map(recs.filter((r) => r.event === 'statement').map((r) => [r.id, r]));
    const approvalRecs = recs.filter((r) => r.event === 'approval');
    for (const a of ['requested', 'reviewed', 'executed', 'expired']) assert.ok(approvalRecs.some((r) => r.action === a), a);
    for (const r of approvalRecs) assert.ok(statements.has(r.statementId), `approval ${r.action} links to a statement record`);
    const executedStmt = statements.get(approvalRecs.find((r) => r.action === 'executed').statementId);
    assert.equal(executedStmt.approval.phase, 'Executed');
    const results = recs.filter((r) => r.event === 'result' && r.result.columns?.includes('ssn'));
    assert.ok(results.length > 0);
    for (const r of results) {
      const i = r.result.columns.indexOf('ssn');
      for (const row of r.result.values) assert.ok(!SSN.test(row[i]), 'approved values are not kept in the audit');
    }
    assert.ok(results.some((r) => r.result.values.some((row: any) => row.includes(UNMASKED_PLACEHOLDER))));
    assert.equal(verifyAuditLog(gw.audit.join('\n')).ok, true);
  });
  it('exports pending, decision and time-to-decision metrics', async () => {
    const m = (await gw.get('/metrics')).text;
    assert.match(m, /^phigate_approvals_pending \d+/m);
    assert.match(m, /^phigate_approval_decisions_total\{outcome="approved"\} \d+/m);
    assert.match(m, /^phigate_approval_decisions_total\{outcome="executed"\} \d+/m);
    assert.match(m, /^phigate_approval_time_to_decision_seconds_count \d+/m);
  });
});
