// The standalone gateway over real HTTP on loopback, against the real demo dataset in DuckDB.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { startTestGateway, ACCEPTANCE_POLICY, TOKENS, TEST_CACHE_DIR, type TestGateway } from '../helpers/gateway.ts';
import { demoDatabasePath, CANARY } from '../../src/warehouse/demo-dataset.ts';
import { verifyAuditLog } from '../../src/audit/verify.ts';

let gw: TestGateway;
let realSsns: Set<string>;

before(async () => {
  gw = await startTestGateway(ACCEPTANCE_POLICY, TOKENS);
  // The raw values, read straight from the file, to prove none of them ever reaches the agent.
  const db = await DuckDBInstance.create(await demoDatabasePath({ cacheDir: TEST_CACHE_DIR }), { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  realSsns = new Set((await conn.runAndReadAll('SELECT ssn FROM patients')).getRows().map((r) => String(r[0])));
  conn.closeSync();
  db.closeSync();
});
after(async () => { await gw?.close(); });

const q = (sql: string, extra: Record<string, unknown> = {}) => gw.post('tok-a', { statement: sql, ...extra });
const noRealSsn = (text: string) => {
  for (const m of text.matchAll(/\d{3}-\d{2}-\d{4}/g)) assert.ok(!realSsns.has(m[0]), 'a real SSN reached the agent');
};

describe('SQL API: results', () => {
  it('answers in the Snowflake SQL API v2 shape, values as strings', async () => {
    const r = await q('SELECT COUNT(*) AS n FROM patients');
    assert.equal(r.status, 200);
    assert.equal(r.json.code, '090001');
    assert.ok(r.json.statementHandle);
    assert.equal(r.json.resultSetMetaData.numRows, 1);
    assert.deepEqual(r.json.resultSetMetaData.rowType.map((c: any) => [c.name, c.type]), [['n', 'fixed']]);
    assert.ok(Number(r.json.data[0][0]) >= 10_000);
    assert.equal(typeof r.json.data[0][0], 'string');
  });
  it('never sends more than maxRows', async () => {
    const r = await q('SELECT patient_id FROM patients');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 50);
    assert.equal(r.json.resultSetMetaData.numRows, 50);
  });
  it('masks in the engine: SELECT *, predicates and aliases see masked values only', async () => {
    const star = await q('SELECT * FROM patients ORDER BY patient_id');
    const cols = star.json.resultSetMetaData.rowType.map((c: any) => c.name);
    const row = star.json.data[0];
    assert.equal(row[cols.indexOf('ssn')], '[REDACTED]');
    assert.match(row[cols.indexOf('phone')], /^\*+\d{4}$/);
    assert.match(row[cols.indexOf('email')], /^\*@/);
    assert.match(row[cols.indexOf('zip')], /^\d{3}00$/);
    noRealSsn(star.text);
    // The predicate is answered on the masked value, so it learns nothing about the real one.
    const probe = await q("SELECT ssn AS x FROM patients WHERE ssn LIKE '1%'");
    assert.equal(probe.json.data.length, 0);
    const count = await q("SELECT COUNT(*) FROM patients WHERE ssn = '[REDACTED]'");
    assert.equal(count.json.data[0][0], String(10_001));
    const canary = await q(`SELECT COUNT(*) FROM patients WHERE ssn = '${CANARY.ssn}'`);
    assert.equal(canary.json.data[0][0], '0');
  });
  it('a failed cast cannot print a raw value into the error', async () => {
    const r = await q('SELECT CAST(ssn AS INTEGER) FROM patients');
    assert.equal(r.status, 422);
    assert.equal(r.json.rule, 'warehouse_error');
    noRealSsn(r.text);
  });
  it('scrubs free text with the detectors and keeps the rest', async () => {
    const r = await q(`SELECT notes FROM patients WHERE patient_id = ${CANARY.patientId}`);
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes(CANARY.ssn) && !r.text.includes(CANARY.phone));
    assert.match(r.json.data[0][0], /\[SSN\]|\[PHONE\]/);
  });
  it('DATE columns under the year strategy keep their type', async () => {
    const r = await q('SELECT dob FROM patients ORDER BY patient_id LIMIT 1');
    assert.equal(r.json.resultSetMetaData.rowType[0].type, 'date');
    const days = Number(r.json.data[0][0]);
    const d = new Date(days * 86_400_000);
    assert.equal(d.getUTCMonth(), 0);
    assert.equal(d.getUTCDate(), 1);
  });
});

describe('SQL API: refusals', () => {
  it('401 without a token or with a wrong one', async () => {
    assert.equal((await gw.post(null, { statement: 'SELECT 1' })).status, 401);
    const bad = await gw.post('wrong', { statement: 'SELECT 1' });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.code, '390303');
  });
  it('403 for a user no policy names', async () => {
    const r = await gw.post('tok-nobody', { statement: 'SELECT 1' });
    assert.equal(r.status, 403);
    assert.equal(r.json.rule, 'no_policy');
  });
  it('403 naming the table or column outside access', async () => {
    const t = await q('SELECT * FROM providers');
    assert.equal(t.status, 403);
    assert.match(t.json.message, /PROVIDERS/);
    const c = await q('SELECT total_charge FROM encounters');
    assert.equal(c.status, 403);
    assert.match(c.json.message, /ENCOUNTERS\.TOTAL_CHARGE/);
    const info = await q('SELECT * FROM information_schema.tables');
    assert.equal(info.status, 403);
  });
  it('403 for guardrails, 422 for SQL it cannot parse or analyse', async () => {
    assert.equal((await q('DROP TABLE patients')).json.rule, 'ddl');
    assert.equal((await q("SELECT 1; SELECT 2")).json.rule, 'multi_statement');
    const u = await q('SELECT FROM WHERE');
    assert.equal(u.status, 422);
    assert.equal(u.json.rule, 'unparsed');
    const fn = await q("SELECT * FROM read_csv('/etc/passwd')");
    assert.equal(fn.status, 422);
    assert.match(fn.json.message, /READ_CSV/);
  });
  it('clear 4xx for malformed JSON, empty or oversized statements', async () => {
    const bad = await gw.post('tok-a', '{"statement":');
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /JSON/);
    assert.equal((await q('   ')).status, 400);
    assert.equal((await gw.post('tok-a', { nope: 1 })).status, 400);
    const big = await gw.post('tok-a', { statement: `SELECT '${'x'.repeat(5 * 1024 * 1024)}'` });
    assert.equal(big.status, 413);
    // And the gateway is still serving.
    assert.equal((await q('SELECT 1')).status, 200);
  });
  it('a statement handle belongs to its user', async () => {
    const r = await q('SELECT 1');
    const mine = await gw.get(`/api/v2/statements/${r.json.statementHandle}`, 'tok-a');
    assert.equal(mine.status, 410);
    const theirs = await gw.get(`/api/v2/statements/${r.json.statementHandle}`, 'tok-nobody');
    assert.equal(theirs.status, 404);
  });
});

describe('audit and metrics', () => {
  it('one statement record per request, chained, with no raw SSN', async () => {
    const before = gw.records().filter((r) => r.event === 'statement').length;
    await q('SELECT 1');
    await gw.post(null, { statement: 'SELECT 1' });
    await gw.post('tok-a', '{bad json');
    await q('DROP TABLE patients');
    const recs = gw.records();
    assert.equal(recs.filter((r) => r.event === 'statement').length - before, 4);
    const last4 = recs.filter((r) => r.event === 'statement').slice(-4).map((r) => r.decision.outcome);
    assert.deepEqual(last4, ['allowed', 'unauthenticated', 'denied', 'denied']);
    const v = verifyAuditLog(gw.audit.join('\n'));
    assert.equal(v.ok, true);
    noRealSsn(gw.audit.join('\n'));
  });
  it('a result record follows each executed statement, linked by id', async () => {
    const r = await q('SELECT patient_id FROM patients LIMIT 3');
    assert.equal(r.status, 200);
    const recs = gw.records();
    const res = recs.at(-1);
    const stmt = recs.at(-2);
    assert.equal(res.event, 'result');
    assert.equal(res.statementId, stmt.id);
    assert.equal(res.result.rows, 3);
    assert.match(res.result.digest, /^sha256:[0-9a-f]{64}$/);
  });
  it('counts masked cells per rule and per detector', async () => {
    const r = await q('SELECT ssn, phone, notes FROM patients ORDER BY patient_id LIMIT 20');
    assert.equal(r.status, 200);
    const res = gw.records().at(-1);
    assert.deepEqual(res.result.maskedCellsByRule, { 'mask:PATIENTS.SSN': 20, 'mask:PATIENTS.PHONE': 20, 'mask:PATIENTS.NOTES': 20 });
    assert.ok(res.result.maskedCells >= 60);
    const m = (await gw.get('/metrics')).text;
    assert.match(m, /^phigate_masked_cells_total\{source="rule",name="mask:PATIENTS.SSN"\} \d+/m);
  });
  it('exports phigate_ metrics', async () => {
    const m = await gw.get('/metrics');
    assert.match(m.text, /^phigate_statements_total\{outcome="masked",front_end="sqlapi"\} \d+/m);
    assert.match(m.text, /^phigate_denials_total\{rule="ddl"\} \d+/m);
    assert.match(m.text, /^phigate_decision_duration_seconds_bucket/m);
  });
  it('healthz and readyz', async () => {
    assert.equal((await gw.get('/healthz')).status, 200);
    assert.equal((await gw.get('/readyz')).status, 200);
  });
});
