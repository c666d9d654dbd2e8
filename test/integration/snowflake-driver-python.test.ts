// The unmodified snowflake-connector-python (PyPI, <5) against the driver-protocol front end
// of an in-process gateway on the demo dataset: login with the phigate token, SELECTs with
// the common column types, masked rows, multi-chunk results, async execution, denials as
// driver errors, and a synchronous execute() that waits through an approval.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ensureVenv, runPython } from '../helpers/python.ts';
import { phigate } from '../helpers/cli.ts';

const POLICIES = `
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: drv, namespace: default }
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
      - { columns: [PATIENTS.PHONE], strategy: partial, keep: 4 }
    detectors: [ssn, phone, email, mrn, date]
---
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: drv-reviewed, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: agent-2 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 100 }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }
  approval:
    requiredWhen: [ { tables: [PATIENTS] } ]
    approvers: [ { kind: Group, name: privacy } ]
    ttl: 10m
`;
const TOKENS = 'tok-1,agent-1,u1,"agents"\ntok-2,agent-2,u2,"agents"\ntok-r,rev-1,u3,"privacy"\n';

let gw: TestGateway;
let port: number;
before(async () => {
  await ensureVenv();
  gw = await startTestGateway(POLICIES, TOKENS);
  port = Number(new URL(gw.url).port);
});
after(async () => { await gw?.close(); });

/** Python prelude: connect(token) to the gateway exactly as an agent's own code would. */
const PRELUDE = `
import json, sys, datetime, decimal
import snowflake.connector
from snowflake.connector.errors import Error, ProgrammingError, DatabaseError
PORT = int(sys.argv[1])
def connect(token, user="agent-1", **kw):
    return snowflake.connector.connect(account="phigate", user=user, password=token, host="127.0.0.1", port=PORT,
        protocol="http", database="CLINICAL", schema="PUBLIC", login_timeout=20, network_timeout=60, **kw)
def out(obj):
    print(json.dumps(obj, default=str))
`;
const py = (body: string, timeoutMs = 60_000) => runPython(PRELUDE + body, [String(port)], { timeoutMs }).then((s) => JSON.parse(s.trim().split('\n').pop()!));

describe('snowflake-connector-python through the driver front end', () => {
  it('logs in with the phigate token and reads the common column types as Python types, masked', async () => {
    const r = await py(`
c = connect("tok-1")
cur = c.cursor()
cur.execute("""SELECT p.patient_id, p.ssn, p.dob, p.phone, e.total_charge, CAST(e.total_charge AS DOUBLE) AS charge_f,
  p.created_at, e.discharge_date IS NULL AS still_admitted, p.state
  FROM patients p JOIN encounters e ON e.patient_id = p.patient_id ORDER BY e.encounter_id LIMIT 5""")
rows = cur.fetchall()
desc = [(d.name, d.type_code, d.precision, d.scale) for d in cur.description]
out({"types": [[type(v).__name__ for v in r] for r in rows], "rows": [[str(v) for v in r] for r in rows], "desc": desc, "sfqid": cur.sfqid})
c.close()
`);
    assert.equal(r.rows.length, 5);
    for (const t of r.types) {
      assert.deepEqual(t.slice(0, 2), ['int', 'str']);
      assert.equal(t[2], 'date');
      assert.equal(t[4], 'Decimal');
      assert.equal(t[5], 'float');
      assert.equal(t[6], 'datetime');
      assert.equal(t[7], 'bool');
      assert.equal(t[8], 'str');
    }
    for (const row of r.rows) {
      assert.equal(row[1], '[REDACTED]');
      assert.match(row[2], /^\d{4}-01-01$/, 'year strategy keeps only the year');
      assert.match(row[3], /^\*+\d{4}$/);
      assert.match(row[4], /^\d+\.\d{2}$/);
      assert.match(row[6], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    }
    assert.match(r.sfqid, /^[0-9a-f-]{36}$/);
    // Every statement is audited by the pipeline, as the driver front end.
    const stmts = gw.records().filter((x) => x.event === 'statement' && x.frontEnd === 'driver' && x.actor.user === 'agent-1');
    assert.ok(stmts.some((x) => x.decision.outcome === 'masked' && /total_charge AS DOUBLE/.test(x.statement.sql)));
  });

  it('reads a multi-chunk result (downloaded from chunk URLs) completely and in order', async () => {
    const r = await py(`
c = connect("tok-1")
cur = c.cursor()
cur.execute("SELECT encounter_id, patient_id, notes FROM encounters ORDER BY encounter_id LIMIT 25000")
batches = cur.get_result_batches()
ids = [row[0] for row in cur.fetchall()]
out({"n": len(ids), "batches": len(batches), "ordered": ids == sorted(ids), "distinct": len(set(ids))})
c.close()
`);
    assert.equal(r.n, 25000);
    assert.equal(r.distinct, 25000);
    assert.ok(r.ordered);
    assert.ok(r.batches > 1, `expected chunk downloads, got ${r.batches} batch(es)`);
    const result = gw.records().filter((x) => x.event === 'result' && x.result.rows === 25000);
    assert.equal(result.length, 1);
  });

  it('reports denials, unanalysable SQL and warehouse errors as driver errors with Snowflake codes', async () => {
    const r = await py(`
c = connect("tok-1")
cur = c.cursor()
res = {}
for name, sql in [("ddl", "DROP TABLE patients"), ("table", "SELECT * FROM providers"), ("multi", "SELECT 1; SELECT 2"),
                  ("bind", None)]:
    try:
        if sql is None:
            c2 = connect("tok-1", paramstyle="qmark")
            c2.cursor().execute("SELECT patient_id FROM patients WHERE patient_id = ?", [1])
        else:
            cur.execute(sql)
        res[name] = "ran"
    except ProgrammingError as e:
        res[name] = {"errno": e.errno, "sqlstate": e.sqlstate, "msg": e.msg}
ok = cur.execute("SELECT COUNT(*) FROM patients").fetchone()[0]
out({"res": res, "after": ok})
`);
    assert.equal(r.res.ddl.errno, 3001);
    assert.equal(r.res.ddl.sqlstate, '42501');
    assert.match(r.res.ddl.msg, /phigate rule/);
    assert.equal(r.res.table.errno, 3001);
    assert.match(r.res.table.msg, /PROVIDERS/);
    assert.ok(r.res.multi.errno > 0);
    assert.match(r.res.bind.msg, /bind variables/);
    assert.ok(r.after >= 10000, 'the session still works after errors');
    const denied = gw.records().filter((x) => x.event === 'statement' && x.frontEnd === 'driver' && x.decision.outcome === 'denied');
    assert.ok(denied.some((x) => x.statement.sql === 'DROP TABLE patients'));
  });

  it('refuses an unknown token as the driver\'s login error, and audits it', async () => {
    const r = await py(`
try:
    connect("not-a-token")
    out({"ok": True})
except DatabaseError as e:
    out({"errno": e.errno, "msg": e.msg})
`);
    assert.equal(r.errno, 390100);
    assert.ok(gw.records().some((x) => x.frontEnd === 'driver' && x.decision?.outcome === 'unauthenticated'));
  });

  it('runs a statement asynchronously and reads its result by query id', async () => {
    const r = await py(`
import time
c = connect("tok-1")
cur = c.cursor()
cur.execute_async("SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 3")
qid = cur.sfqid
status = str(c.get_query_status(qid))
cur2 = c.cursor()
cur2.get_results_from_sfqid(qid)
rows = cur2.fetchall()
out({"qid": qid, "status": status, "rows": [[str(v) for v in r] for r in rows]})
`);
    assert.equal(r.rows.length, 3);
    assert.deepEqual(r.rows.map((x: string[]) => x[1]), ['[REDACTED]', '[REDACTED]', '[REDACTED]']);
    assert.match(r.status, /QueryStatus\.(RUNNING|SUCCESS)/);
  });

  it('a synchronous execute() waits while the statement is pending approval and returns once approved', async () => {
    const child = py(`
c = connect("tok-2", user="agent-2")
cur = c.cursor()
cur.execute("SELECT patient_id, ssn FROM patients ORDER BY patient_id LIMIT 2")
out({"rows": [[str(v) for v in r] for r in cur.fetchall()]})
`, 90_000);
    const name = await waitForApproval('agent-2');
    const approved = await phigate(['approve', name, '--server', gw.url, '--token', 'tok-r', '--reason', 'ticket DATA-7']);
    assert.equal(approved.status, 0, approved.stderr);
    const r = await child;
    assert.deepEqual(r.rows, [['1', '[REDACTED]'], ['2', '[REDACTED]']]);
    const recs = gw.records().filter((x) => x.session && x.actor?.user === 'agent-2' && x.event === 'statement');
    assert.deepEqual(recs.map((x) => x.decision.outcome), ['pending_approval', 'masked']);
    assert.equal(recs[1].approval.phase, 'Executed');
  });

  it('a denied approval reaches the waiting driver call as an error', async () => {
    const child = py(`
c = connect("tok-2", user="agent-2")
try:
    c.cursor().execute("SELECT patient_id FROM patients ORDER BY patient_id LIMIT 4")
    out({"ran": True})
except ProgrammingError as e:
    out({"errno": e.errno, "msg": e.msg})
`, 90_000);
    const name = await waitForApproval('agent-2', /LIMIT 4/);
    const denied = await phigate(['deny', name, '--server', gw.url, '--token', 'tok-r', '--reason', 'not needed']);
    assert.equal(denied.status, 0, denied.stderr);
    const r = await child;
    assert.ok(r.errno > 0, JSON.stringify(r));
    assert.match(r.msg, /denied/i);
  });
});

/** The name of the approval an agent's statement waits for, from the audit log. */
async function waitForApproval(user: string, sql: RegExp = /./): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const rec = gw.records().reverse().find((x) => x.event === 'statement' && x.actor?.user === user && x.decision.outcome === 'pending_approval' && sql.test(x.statement.sql));
    const m = rec && /waiting for approval (\S+):/.exec(rec.decision.reason);
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no pending approval for ${user}`);
}
