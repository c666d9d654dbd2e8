// The unmodified snowflake-sdk (Node, npm) against the driver-protocol front end of an
// in-process gateway on the demo dataset: common column types, masked rows, a multi-chunk
// streamed result, denials as driver errors, async execution, session renewal and logout, and
// a synchronous execute() that waits through an approval.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import snowflake from 'snowflake-sdk';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { phigate } from '../helpers/cli.ts';

snowflake.configure({ logLevel: 'OFF' } as Parameters<typeof snowflake.configure>[0]);

const POLICIES = `
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: sdk, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-1 } ]
  access:
    statements: [SELECT]
    tables: [ { name: PATIENTS, columns: ["*"] }, { name: ENCOUNTERS, columns: ["*"] } ]
    maxRows: 30000
  masking:
    rules:
      - { columns: [PATIENTS.SSN], strategy: redact }
      - { columns: [PATIENTS.DOB], strategy: year }
    detectors: [ssn, phone, email, mrn, date]
---
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: sdk-reviewed, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-2 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 100 }
  approval:
    requiredWhen: [ { tables: [PATIENTS] } ]
    approvers: [ { kind: Group, name: privacy } ]
    ttl: 10m
`;
const TOKENS = 'tok-1,agent-1,u1,"agents"\ntok-2,agent-2,u2,"agents"\ntok-r,rev-1,u3,"privacy"\n';

let gw: TestGateway;
before(async () => { gw = await startTestGateway(POLICIES, TOKENS); });
after(async () => { await gw?.close(); });

type Conn = ReturnType<typeof snowflake.createConnection>;

async function connect(password: string, username = 'agent-1', extra: Record<string, unknown> = {}): Promise<Conn> {
  const conn = snowflake.createConnection({ account: 'phigate', username, password, accessUrl: gw.url, database: 'CLINICAL', schema: 'PUBLIC', ...extra } as Parameters<typeof snowflake.createConnection>[0]);
  await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
  return conn;
}

function query(conn: Conn, sqlText: string, opts: Record<string, unknown> = {}): Promise<{ rows: any[]; stmt: any }> {
  return new Promise((resolve, reject) => conn.execute({ sqlText, ...opts, complete: (e: unknown, stmt: any, rows: any) => (e ? reject(e) : resolve({ rows: rows ?? [], stmt })) } as any));
}

const destroy = (conn: Conn) => new Promise<void>((resolve) => conn.destroy(() => resolve()));

describe('snowflake-sdk through the driver front end', () => {
  it('connects with the phigate token as the password and reads common types, masked', async () => {
    const conn = await connect('tok-1');
    try {
      const { rows, stmt } = await query(conn, `SELECT p.patient_id, p.ssn, p.dob, e.total_charge, CAST(e.total_charge AS DOUBLE) AS charge_f,
        p.created_at, e.discharge_date IS NULL AS still_admitted, p.state
        FROM patients p JOIN encounters e ON e.patient_id = p.patient_id ORDER BY e.encounter_id LIMIT 4`);
      assert.equal(rows.length, 4);
      const cols = stmt.getColumns().map((c: any) => [c.getName(), c.getType(), c.getScale()]);
      assert.deepEqual(cols.map((c: any[]) => c[1]), ['fixed', 'text', 'date', 'fixed', 'real', 'timestamp_ntz', 'boolean', 'text']);
      assert.equal(cols[3][2], 2, 'DECIMAL(10,2) keeps its scale');
      for (const r of rows) {
        assert.equal(typeof r.patient_id, 'number');
        assert.equal(r.ssn, '[REDACTED]');
        assert.ok(r.dob instanceof Date);
        assert.equal(r.dob.getUTCMonth(), 0);
        assert.equal(r.dob.getUTCDate(), 1);
        assert.equal(typeof r.total_charge, 'number');
        assert.equal(typeof r.charge_f, 'number');
        assert.ok(r.created_at instanceof Date && r.created_at.getUTCFullYear() > 2000);
        assert.equal(typeof r.still_admitted, 'boolean');
        assert.equal(typeof r.state, 'string');
      }
      assert.match(stmt.getQueryId(), /^[0-9a-f-]{36}$/);
    } finally { await destroy(conn); }
  });

  it('streams a multi-chunk result completely and in order', async () => {
    const conn = await connect('tok-1');
    try {
      const stmt: any = await new Promise((resolve, reject) => conn.execute({
        sqlText: 'SELECT encounter_id, notes FROM encounters ORDER BY encounter_id LIMIT 20000', streamResult: true,
        complete: (e: unknown, s: any) => (e ? reject(e) : resolve(s)),
      } as any));
      let n = 0;
      let last = 0;
      let ordered = true;
      for await (const row of stmt.streamRows()) {
        if (row.ENCOUNTER_ID !== undefined || row.encounter_id <= last) ordered = false;
        last = row.encounter_id;
        n++;
      }
      assert.equal(n, 20000);
      assert.ok(ordered);
    } finally { await destroy(conn); }
  });

  it('gets denials as driver errors with Snowflake codes; a bad password is a login error', async () => {
    const conn = await connect('tok-1');
    try {
      await assert.rejects(query(conn, 'DROP TABLE patients'), (e: any) => e.code === '003001' && e.sqlState === '42501' && /phigate rule ddl/.test(e.message));
      await assert.rejects(query(conn, 'SELECT patient_id FROM patients WHERE patient_id = ?', { binds: [1] }), (e: any) => /bind variables/.test(e.message));
      const { rows } = await query(conn, 'SELECT COUNT(*) AS n FROM patients');
      assert.ok(rows[0].N >= 10000 || rows[0].n >= 10000);
    } finally { await destroy(conn); }
    await assert.rejects(connect('wrong-token'), (e: any) => e.code === '390100');
  });

  it('runs asynchronously and fetches the result by query id', async () => {
    const conn = await connect('tok-1');
    try {
      const { stmt } = await query(conn, 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 3', { asyncExec: true });
      const qid = stmt.getQueryId();
      const status = await (conn as any).getQueryStatus(qid);
      assert.ok(['RUNNING', 'SUCCESS'].includes(status), status);
      const rows: any[] = [];
      const res: any = await (conn as any).getResultsFromQueryId({ queryId: qid });
      for await (const row of res.streamRows()) rows.push(row);
      assert.deepEqual(rows.map((r) => r.ssn), ['[REDACTED]', '[REDACTED]', '[REDACTED]']);
    } finally { await destroy(conn); }
  });

  it('a synchronous execute() waits through an approval; logout ends the session', async () => {
    const conn = await connect('tok-2', 'agent-2');
    const pending = query(conn, 'SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 2');
    let name: string | undefined;
    for (let i = 0; i < 150 && !name; i++) {
      const rec = gw.records().find((x) => x.event === 'statement' && x.actor?.user === 'agent-2' && x.decision.outcome === 'pending_approval');
      name = rec && /waiting for approval (\S+):/.exec(rec.decision.reason)?.[1];
      if (!name) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(name, 'the statement waits for an approval');
    const approved = await phigate(['approve', name!, '--server', gw.url, '--token', 'tok-r', '--reason', 'ticket DATA-9']);
    assert.equal(approved.status, 0, approved.stderr);
    const { rows } = await pending;
    assert.deepEqual(rows.map((r) => r.patient_id), [1, 2]);
    assert.equal(rows[0].ssn, '[SSN]', 'no masking rule here: the result scan\'s detectors still replace SSNs');
    await destroy(conn);
    // An unknown (or logged-out) session token is the driver's "session gone".
    const unknown = 'x';
    const r = await fetch(`${gw.url}/queries/v1/query-request`, { method: 'POST', headers: { authorization: `Snowflake Token="${unknown}"`, 'content-type': 'application/json' }, body: JSON.stringify({ sqlText: 'SELECT 1' }) });
    const body = await r.json() as any;
    assert.equal(body.success, false);
    assert.equal(body.code, '390111');
    const drv = gw.records().filter((x) => x.event === 'statement' && x.actor?.user === 'agent-2');
    assert.ok(drv.every((x) => x.frontEnd === 'driver'));
  });
});
