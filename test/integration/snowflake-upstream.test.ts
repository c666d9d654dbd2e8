// The Snowflake upstream (src/warehouse/snowflake.ts, snowflake-sdk) against Snowflake-protocol
// servers nobody here wrote:
//  - fakesnow (PyPI), started on loopback from the cached venv, behind a small test-only
//    wrapper that re-encodes its Arrow results as JSON rowsets (test/fixtures/fakesnow_json.py;
//    snowflake-sdk cannot read fakesnow's Arrow). The SQL runs in fakesnow.
//  - another phigate, serving the DuckDB demo through its driver-protocol front end.
// fakesnow cannot answer EXPLAIN USING JSON, and a phigate refuses EXPLAIN, so these gateways
// run with PHIGATE_SNOWFLAKE_EXPLAIN=off; the EXPLAIN comparison is unit-tested on Snowflake's
// documented plan JSON (test/unit/warehouse/snowflake-crosscheck.test.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import snowflake from 'snowflake-sdk';
import { generateKeyPairSync, verify, createHash } from 'node:crypto';
import { openSnowflakeWarehouse } from '../../src/warehouse/snowflake.ts';
import type { SecretObject } from '../../src/api/types.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ensureVenv, freePort, runPython, startPythonServer, type PyServer } from '../helpers/python.ts';
import { ROOT } from '../helpers/cli.ts';

process.env.PHIGATE_SNOWFLAKE_EXPLAIN = 'off';

const SEED = `
import sys, snowflake.connector
c = snowflake.connector.connect(account="fake", user="seed", password="x", host="127.0.0.1", port=int(sys.argv[1]), protocol="http", database="CLINICAL", schema="PUBLIC")
cur = c.cursor()
for s in ["CREATE DATABASE IF NOT EXISTS CLINICAL", "CREATE SCHEMA IF NOT EXISTS CLINICAL.PUBLIC", "USE SCHEMA CLINICAL.PUBLIC",
  "CREATE OR REPLACE TABLE PATIENTS (PATIENT_ID NUMBER(38,0), SSN VARCHAR, DOB DATE, CREATED_AT TIMESTAMP_NTZ, BALANCE NUMBER(10,2), SCORE FLOAT, ACTIVE BOOLEAN, ZIP VARCHAR, EMAIL VARCHAR, PHONE VARCHAR, NOTES VARCHAR)",
  """INSERT INTO PATIENTS VALUES
     (1, '123-45-6789', '1980-05-06', '2020-01-02 03:04:05.123456', 12.5, 1.5, true, '02139', 'ann@example.org', '617-555-0101', 'call 555-123-4567 or ann@example.org'),
     (2, NULL, '1975-12-31', '2021-06-07 08:09:10', -3.25, 2.25, false, '03601', 'bob@x.io', NULL, NULL),
     (3, '987-65-4321', '2001-02-03', '2022-12-31 23:59:59.999', 0, -0.5, NULL, '  10001-1234', 'no-at-sign', '12', 'SSN 987-65-4321 on file')""",
  "CREATE OR REPLACE TABLE SECRETS (ID NUMBER, V VARCHAR)",
  "CREATE OR REPLACE TABLE BIG AS SELECT SEQ4() AS N FROM TABLE(GENERATOR(ROWCOUNT => 2500))"]:
    cur.execute(s)
print("seeded")
`;

const POLICY = (url: string) => `
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: sf, namespace: default }
spec:
  warehouse: { type: snowflake, snowflake: { account: fake, database: CLINICAL, schema: PUBLIC, warehouse: WH, role: AGENT_READONLY, credentialsSecretRef: { name: sf-creds } } }
  subjects: [ { kind: User, name: agent-1 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] }, { name: BIG, columns: ["*"] } ], maxRows: 2000 }
  masking:
    rules:
      - { columns: [PATIENTS.SSN], strategy: redact }
      - { columns: [PATIENTS.DOB], strategy: year }
      - { columns: [PATIENTS.ZIP], strategy: zip3 }
      - { columns: [PATIENTS.EMAIL], strategy: email_domain }
      - { columns: [PATIENTS.PHONE], strategy: partial, keep: 4 }
      - { columns: [PATIENTS.NOTES], strategy: scrub }
    detectors: [ssn, phone, email]
---
apiVersion: v1
kind: Secret
metadata: { name: sf-creds, namespace: default }
stringData: { username: PHIGATE_SVC, password: s3cret-pw, accessUrl: "${url}" }
`;

let fake: PyServer;
let log: string;
let gw: TestGateway;

before(async () => {
  await ensureVenv();
  const port = await freePort();
  log = join(mkdtempSync(join(tmpdir(), 'phigate-fakesnow-')), 'requests.jsonl');
  fake = await startPythonServer([join(ROOT, 'test/fixtures/fakesnow_json.py'), String(port), log], port, { readyPath: '/telemetry/ping' });
  assert.match(await runPython(SEED, [String(port)]), /seeded/);
  gw = await startTestGateway(POLICY(fake.url), 'tok-a,agent-1,u1,"agents"\n');
});
after(async () => { await gw?.close(); await fake?.stop(); });

const logged = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);
/** The query-requests the gateway sent to fakesnow. */
const sent = () => logged().filter((x) => !x.login);
/** The login-requests, with how they authenticated. */
const logins = () => logged().filter((x) => x.login).map((x) => x.login);

describe('Snowflake upstream through snowflake-sdk, against fakesnow', () => {
  it('reads the catalog from INFORMATION_SCHEMA and masks every strategy inside the engine', async () => {
    const r = await gw.post('tok-a', { statement: 'SELECT * FROM patients ORDER BY patient_id' });
    assert.equal(r.status, 200, r.text);
    const types = r.json.resultSetMetaData.rowType.map((c: any) => c.type);
    assert.deepEqual(types, ['fixed', 'text', 'date', 'timestamp_ntz', 'fixed', 'real', 'boolean', 'text', 'text', 'text', 'text']);
    const [a, b, c] = r.json.data;
    // PATIENT_ID, SSN, DOB (days), CREATED_AT (seconds), BALANCE, SCORE, ACTIVE, ZIP, EMAIL, PHONE, NOTES
    assert.deepEqual(a, ['1', '[REDACTED]', '3652', '1577934245.123456000', '12.50', '1.5', 'true', '02100', '*@example.org', '********0101', 'call [PHONE] or [EMAIL]']);
    assert.deepEqual(b, ['2', '[REDACTED]', '1826', '1623053350.000000000', '-3.25', '2.25', 'false', '00000', '*@x.io', null, null]);
    assert.equal(c[7], '10000');
    assert.equal(c[8], '*');
    assert.equal(c[9], '**');
    assert.equal(c[10], 'SSN [SSN] on file');
  });

  it('filters and joins see masked values only (masking is in the engine, not on the result)', async () => {
    const r = await gw.post('tok-a', { statement: "SELECT COUNT(*) AS n FROM patients WHERE ssn LIKE '1%'" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data, [['0']]);
  });

  it('tags every statement with QUERY_TAG (audit statement id) and a statement timeout', async () => {
    const r = await gw.post('tok-a', { statement: 'SELECT patient_id FROM patients WHERE patient_id = 2', timeout: 30 });
    assert.equal(r.status, 200, r.text);
    const rec = gw.records().filter((x) => x.event === 'statement' && x.statement.sql.includes('patient_id = 2')).pop();
    const upstream = sent().filter((x) => x.parameters?.QUERY_TAG && JSON.parse(x.parameters.QUERY_TAG).phigate.statement === rec.id);
    assert.equal(upstream.length, 1, 'one upstream statement carries this audit record id');
    assert.equal(upstream[0].parameters.STATEMENT_TIMEOUT_IN_SECONDS, 30);
    assert.match(upstream[0].sqlText, /FROM \(SELECT .* FROM "CLINICAL"\."PUBLIC"\."PATIENTS"\)/s, 'the rewritten text runs upstream');
    assert.ok(!JSON.stringify(sent()).includes('s3cret-pw'));
  });

  it('streams large results in batches and stops at maxRows', async () => {
    const r = await gw.post('tok-a', { statement: 'SELECT n FROM big ORDER BY n' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 2000);
    assert.equal(r.json.data[1999][0], '1999');
  });

  it('denies before anything reaches Snowflake, and maps Snowflake errors without values', async () => {
    const before = sent().length;
    assert.equal((await gw.post('tok-a', { statement: 'DROP TABLE patients' })).status, 403);
    assert.equal((await gw.post('tok-a', { statement: 'SELECT * FROM secrets' })).status, 403);
    assert.equal(sent().length, before, 'refused statements are never sent upstream');
    const bad = await gw.post('tok-a', { statement: 'SELECT CAST(notes AS INT) FROM patients' });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.rule, 'warehouse_error');
    assert.match(bad.json.message, /^snowflake rejected the statement: Snowflake error/);
    assert.ok(!/555-123-4567|ann@example\.org|987-65-4321/.test(bad.text), bad.text);
  });

  it('serves an unmodified snowflake-sdk through the gateway\'s driver front end (agent → phigate → fakesnow)', async () => {
    snowflake.configure({ logLevel: 'OFF' } as Parameters<typeof snowflake.configure>[0]);
    const conn = snowflake.createConnection({ account: 'phigate', username: 'agent-1', password: 'tok-a', accessUrl: gw.url } as Parameters<typeof snowflake.createConnection>[0]);
    await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
    try {
      const raw: any[] = await new Promise((resolve, reject) => conn.execute({
        sqlText: 'SELECT patient_id, ssn, dob, created_at, balance, active FROM patients ORDER BY patient_id',
        complete: (e, _s, rs) => (e ? reject(e) : resolve(rs ?? [])),
      }));
      // The gateway names output columns from its analysis, as the agent wrote them.
      const rows: any[] = raw.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toUpperCase(), v])));
      assert.equal(rows.length, 3);
      assert.equal(rows[0].SSN, '[REDACTED]');
      assert.equal(rows[0].PATIENT_ID, 1);
      assert.equal(rows[0].BALANCE, 12.5);
      assert.equal(rows[0].ACTIVE, true);
      assert.equal(rows[0].DOB.toISOString().slice(0, 10), '1980-01-01');
      assert.equal(rows[0].CREATED_AT.toISOString(), '2020-01-02T03:04:05.123Z');
    } finally {
      await new Promise<void>((resolve) => conn.destroy(() => resolve()));
    }
  });
});

describe('credentials from the policy Secret', () => {
  const spec = { account: 'xy12345', database: 'CLINICAL', schema: 'PUBLIC', credentialsSecretRef: { name: 'c' } };
  const secret = (stringData: Record<string, string>): SecretObject[] =>
    [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c', namespace: 'team-a' }, stringData: { accessUrl: fake.url, ...stringData } }];
  const rows = async (wh: Awaited<ReturnType<typeof openSnowflakeWarehouse>>) => {
    const st = await wh.execute('SELECT COUNT(*) FROM CLINICAL.PUBLIC.PATIENTS', { maxRows: 10, timeoutMs: 10_000 });
    const out: (string | null)[][] = [];
    for await (const c of st.chunks) out.push(...c);
    return out;
  };

  it('key-pair: signs a JWT with the Secret\'s privateKey that verifies with the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const wh = await openSnowflakeWarehouse(spec, { readOnly: true, namespace: 'team-a', secrets: secret({ username: 'KEY_USER', privateKey: pem }) });
    try {
      assert.deepEqual(await rows(wh), [['3']]);
      const login = logins().filter((l) => l.LOGIN_NAME === 'KEY_USER').pop();
      assert.equal(login.AUTHENTICATOR, 'SNOWFLAKE_JWT');
      assert.equal(login.HAS_PASSWORD, false);
      const [h, p, sig] = String(login.TOKEN).split('.');
      assert.ok(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(sig!, 'base64url')), 'the JWT verifies with the public key');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const fp = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
      assert.equal(claims.iss, `XY12345.KEY_USER.SHA256:${fp}`, 'issuer names the account, user and public key fingerprint (RSA_PUBLIC_KEY_FP)');
    } finally { await wh.close(); }
  });

  it('OAuth: sends the Secret\'s token; password: never logged or echoed', async () => {
    const wh = await openSnowflakeWarehouse(spec, { readOnly: true, namespace: 'team-a', secrets: secret({ username: 'OAUTH_USER', token: 'oauth-access-token-1' }) });
    try {
      assert.deepEqual(await rows(wh), [['3']]);
      const login = logins().filter((l) => l.LOGIN_NAME === 'OAUTH_USER').pop();
      assert.equal(login.AUTHENTICATOR, 'OAUTH');
      assert.equal(login.TOKEN, 'oauth-access-token-1');
    } finally { await wh.close(); }
    await assert.rejects(openSnowflakeWarehouse(spec, { readOnly: true, namespace: 'team-a', secrets: secret({ username: 'U' }) }), /needs one of the keys password, privateKey \(PEM\) or token/);
    await assert.rejects(openSnowflakeWarehouse(spec, { readOnly: true, namespace: 'other', secrets: secret({ username: 'U', password: 'p' }) }), /Secret other\/c \(credentialsSecretRef\) not found/);
  });
});

describe('gateway → gateway: a snowflake-type policy pointing snowflake-sdk at another phigate', () => {
  let inner: TestGateway;
  let outer: TestGateway;
  before(async () => {
    inner = await startTestGateway(`
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: inner, namespace: default }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: User, name: outer-gateway } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: [PATIENT_ID, SSN, DOB, ZIP, STATE, CREATED_AT] } ], maxRows: 500 }
  masking: { rules: [ { columns: [PATIENTS.SSN], strategy: redact } ] }
`, 'tok-outer,outer-gateway,u9,"gateways"\n');
    outer = await startTestGateway(`
apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: outer, namespace: default }
spec:
  warehouse: { type: snowflake, snowflake: { account: phigate, database: CLINICAL, schema: MAIN, credentialsSecretRef: { name: inner-creds } } }
  subjects: [ { kind: User, name: agent-1 } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 100 }
  masking: { rules: [ { columns: [PATIENTS.ZIP], strategy: zip3 }, { columns: [PATIENTS.DOB], strategy: year } ] }
---
apiVersion: v1
kind: Secret
metadata: { name: inner-creds, namespace: default }
stringData: { username: outer-gateway, password: tok-outer, accessUrl: "${inner.url}" }
`, 'tok-a,agent-1,u1,"agents"\n');
  });
  after(async () => { await outer?.close(); await inner?.close(); });

  it('reads the inner gateway\'s policy view as its catalog, and both gateways mask', async () => {
    const r = await outer.post('tok-a', { statement: 'SELECT patient_id, ssn, dob, zip, state, created_at FROM patients ORDER BY patient_id LIMIT 3' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.resultSetMetaData.rowType.map((c: any) => c.type), ['fixed', 'text', 'date', 'text', 'text', 'timestamp_ntz']);
    for (const row of r.json.data) {
      assert.equal(row[1], '[REDACTED]', 'the inner gateway masks SSN');
      assert.match(row[3], /^\d{3}00$/, 'the outer gateway masks ZIP');
      const days = Number(row[2]);
      const d = new Date(days * 86400_000);
      assert.equal(d.getUTCMonth() * 100 + d.getUTCDate(), 1, 'the outer gateway keeps only the year of DOB');
      assert.match(row[5], /^\d+\.\d{9}$/);
    }
    // The outer gateway cannot see what the inner policy does not allow.
    const hidden = await outer.post('tok-a', { statement: 'SELECT phone FROM patients' });
    assert.ok([403, 422].includes(hidden.status), hidden.text);
    assert.match(hidden.json.message, /PHONE/i);
    // The inner gateway audited the outer one's statements as driver statements, with the outer's catalog read.
    const innerStmts = inner.records().filter((x) => x.event === 'statement');
    assert.ok(innerStmts.every((x) => x.frontEnd === 'driver' && x.actor.user === 'outer-gateway'));
    assert.ok(innerStmts.some((x) => x.decision.rules.includes('catalog:policy_view')));
    assert.ok(innerStmts.some((x) => x.decision.outcome === 'masked' && /FROM \(SELECT/.test(x.statement.sql)));
  });
});
