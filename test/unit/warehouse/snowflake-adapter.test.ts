// The Snowflake adapter's own logic, with a stand-in for snowflake-sdk's pool: credentials,
// connection options, value encoding, QUERY_TAG and timeout parameters, cancellation, error
// mapping, catalog caching and the EXPLAIN cross-check's use of the plan.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  connectionOptions, credentialsFrom, describeSnowflakeError, encoderFor, openSnowflakeWarehouse, queryTag, snowflakeTypeName,
  CATALOG_TTL_MS,
} from '../../../src/warehouse/snowflake.ts';
import { nativeSnowflakeType, quoteIdent, snowflakeMaskExpression, sqlString } from '../../../src/warehouse/snowflake-sql.ts';
import type { SecretObject } from '../../../src/api/types.ts';
import { EngineDisagreement, type RewriteExpectation } from '../../../src/warehouse/types.ts';

const SPEC = { account: 'xy12345.us-east-1', database: 'CLINICAL', schema: 'PUBLIC', warehouse: 'WH', role: 'AGENT_READONLY', credentialsSecretRef: { name: 'sf' } };
const secret = (stringData: Record<string, string>, namespace = 'team-a'): SecretObject[] =>
  [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sf', namespace }, stringData }];

const CATALOG_ROWS = [
  ['PUBLIC', 'PATIENTS', 'PATIENT_ID', 'NUMBER', '38', '0', 'CLINICAL'],
  ['PUBLIC', 'PATIENTS', 'SSN', 'TEXT', null, null, 'CLINICAL'],
  ['PUBLIC', 'PATIENTS', 'BALANCE', 'NUMBER', '10', '2', 'CLINICAL'],
  ['PUBLIC', 'PATIENTS', 'DOB', 'DATE', null, null, 'CLINICAL'],
];

interface Call { sqlText: string; parameters: Record<string, unknown>; cancelled: boolean }

/** A pool whose connections answer catalog and EXPLAIN queries, and hang on anything with SLEEP. */
function fakePool(opts: { explain?: () => unknown; fail?: (sql: string) => Error | undefined } = {}) {
  const calls: Call[] = [];
  const state = { acquired: 0, released: 0, options: undefined as Record<string, unknown> | undefined };
  const conn = {
    execute(o: any) {
      const call: Call = { sqlText: o.sqlText, parameters: o.parameters, cancelled: false };
      calls.push(call);
      const stmt = {
        cancel: (cb?: () => void) => { call.cancelled = true; o.complete(Object.assign(new Error('SQL execution canceled'), { code: '000604' })); cb?.(); },
        getColumns: () => columns,
        streamRows: () => Readable.from(rows),
      };
      let rows: unknown[][] = [];
      let columns: any[] = [];
      const col = (name: string, type: string, scale = 0) => ({ getName: () => name, getType: () => type, isNullable: () => true, getScale: () => scale, getPrecision: () => 38 });
      const err = opts.fail?.(o.sqlText);
      if (err) { setImmediate(() => o.complete(err)); return stmt; }
      if (/INFORMATION_SCHEMA\.COLUMNS/.test(o.sqlText)) {
        columns = ['TABLE_SCHEMA', 'TABLE_NAME', 'COLUMN_NAME', 'DATA_TYPE', 'NUMERIC_PRECISION', 'NUMERIC_SCALE', 'TABLE_CATALOG'].map((n) => col(n, 'text'));
        rows = CATALOG_ROWS;
      } else if (/^EXPLAIN USING JSON /.test(o.sqlText)) {
        columns = [col('content', 'text')];
        rows = [[JSON.stringify(opts.explain?.())]];
      } else if (/SLEEP/.test(o.sqlText)) {
        return stmt; // never completes until cancelled
      } else {
        columns = [col('N', 'fixed'), col('D', 'date'), col('T', 'timestamp_ntz', 9), col('B', 'boolean'), col('S', 'text')];
        const sfDate = (s: number, n = 0) => Object.assign(new Date(s * 1000), { getEpochSeconds: () => s, getNanoSeconds: () => n });
        rows = Array.from({ length: 2500 }, (_, i) => [String(i), sfDate(86400 * i), sfDate(-1, 500_000_000), i % 2 === 0, null]);
      }
      setImmediate(() => o.complete(undefined, stmt));
      return stmt;
    },
  };
  const pool = {
    acquire: async () => { state.acquired++; return conn; },
    release: async () => { state.released++; },
    drain: async () => {},
    clear: async () => {},
  };
  return { calls, state, createPool: (o: Record<string, unknown>) => { state.options = o; return pool as any; } };
}

async function drain(stream: { chunks: AsyncIterable<(string | null)[][]> }) {
  const rows: (string | null)[][] = [];
  let batches = 0;
  for await (const c of stream.chunks) { rows.push(...c); batches++; }
  return { rows, batches };
}

describe('credentials and connection options', () => {
  it('password, key-pair (JWT) and OAuth from the Secret; exactly one', () => {
    assert.deepEqual(connectionOptions(SPEC, credentialsFrom(secret({ username: 'SVC', password: 'pw' }), 'team-a', 'sf')), {
      account: SPEC.account, username: 'SVC', database: 'CLINICAL', schema: 'PUBLIC', warehouse: 'WH', role: 'AGENT_READONLY',
      application: 'phigate', clientSessionKeepAlive: true, password: 'pw',
    });
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
    const kp = connectionOptions(SPEC, credentialsFrom(secret({ username: 'SVC', privateKey: pem, privateKeyPassphrase: 'pp' }), 'team-a', 'sf'));
    assert.equal(kp.authenticator, 'SNOWFLAKE_JWT');
    assert.equal(kp.privateKey, pem);
    assert.equal(kp.privateKeyPass, 'pp');
    assert.equal(kp.password, undefined);
    const oauth = connectionOptions(SPEC, credentialsFrom(secret({ username: 'SVC', token: 't' }), 'team-a', 'sf'));
    assert.deepEqual([oauth.authenticator, oauth.token], ['OAUTH', 't']);
    assert.throws(() => credentialsFrom(secret({ username: 'SVC', password: 'a', token: 'b' }), 'team-a', 'sf'), /exactly one/);
    assert.throws(() => credentialsFrom(secret({ username: 'SVC', privateKey: 'ssh-rsa AAA' }), 'team-a', 'sf'), /PKCS#8 PEM/);
    assert.throws(() => credentialsFrom(secret({ password: 'a' }), 'team-a', 'sf'), /no key username/);
    // Another namespace's Secret of the same name is never used.
    assert.throws(() => credentialsFrom(secret({ username: 'SVC', password: 'a' }, 'team-b'), 'team-a', 'sf'), /not found/);
  });

  it('accessUrl from the Secret, else PHIGATE_SNOWFLAKE_URL; only plain URLs', () => {
    const c = credentialsFrom(secret({ username: 'S', password: 'p', accessUrl: 'http://127.0.0.1:9/' }), 'team-a', 'sf');
    assert.equal(connectionOptions(SPEC, c).accessUrl, 'http://127.0.0.1:9');
    assert.throws(() => connectionOptions(SPEC, { ...c, accessUrl: 'http://h/path?x' }), /accessUrl/);
  });
});

describe('values and types', () => {
  it('encodes values as the SQL API does', () => {
    const sfDate = (s: number, n: number, tz?: number) => Object.assign(new Date(s * 1000), { getEpochSeconds: () => s, getNanoSeconds: () => n, getTimezone: () => tz });
    assert.equal(encoderFor('date')(sfDate(86400 * 3652, 0)), '3652');
    assert.equal(encoderFor('timestamp_ntz')(sfDate(1577934245, 123456000)), '1577934245.123456000');
    assert.equal(encoderFor('timestamp_ntz')(sfDate(-1, 500_000_000)), '-0.500000000');
    assert.equal(encoderFor('timestamp_tz')(sfDate(0, 0, 120)), '0.000000000 1560');
    assert.equal(encoderFor('time')({ getMidnightSeconds: () => 45296, getNanoSeconds: () => 789_000_000 }), '45296.789000000');
    assert.equal(encoderFor('boolean')(true), 'true');
    assert.equal(encoderFor('fixed')('12345678901234567890.50'), '12345678901234567890.50');
    assert.equal(encoderFor('binary')(Buffer.from([0xab, 0xcd])), 'abcd');
    assert.equal(encoderFor('variant')('{"a":1}'), '{"a":1}');
    assert.equal(encoderFor('text')(null), null);
    assert.deepEqual(['NUMBER', 'FLOAT', 'TEXT', 'TIMESTAMP_TZ', 'GEOGRAPHY', 'fixed'].map(snowflakeTypeName), ['fixed', 'real', 'text', 'timestamp_tz', 'text', 'fixed']);
    assert.equal(nativeSnowflakeType('NUMBER', 10, 2), 'NUMBER(10,2)');
  });

  it('writes Snowflake literals and identifiers (backslashes are escapes in Snowflake strings)', () => {
    assert.equal(sqlString("it's a \\ test"), "'it''s a \\\\ test'");
    assert.equal(quoteIdent('Mixed "Case"'), '"Mixed ""Case"""');
    assert.throws(() => sqlString('a\0b'), /NUL/);
    const col = { name: 'DOB', type: 'date' as const, textual: false };
    assert.equal(snowflakeMaskExpression({ strategy: 'year' }, '"DOB"', col), 'CAST(DATE_TRUNC(\'YEAR\', "DOB") AS DATE)');
    assert.equal(snowflakeMaskExpression({ strategy: 'redact' }, '"N"', { name: 'N', type: 'fixed', textual: false }, 'NUMBER(10,2)'), 'CAST(NULL AS NUMBER(10,2))');
    assert.match(snowflakeMaskExpression({ strategy: 'hash', hashKey: 'k' }, '"MRN"', { name: 'MRN', type: 'text', textual: true }), /^SHA2\('[0-9a-f]{64}' \|\| SHA2\('[0-9a-f]{64}' \|\| CAST\("MRN" AS VARCHAR\), 256\), 256\)$/);
  });

  it('keeps errors to one line with literals removed', () => {
    assert.equal(describeSnowflakeError(Object.assign(new Error("Numeric value '123-45-6789' is not recognized\nmore"), { code: '100038' })), "Snowflake error 100038: Numeric value '…' is not recognized");
    assert.match(describeSnowflakeError(new Error("SQL compilation error: invalid identifier 'SSNX'")), /'SSNX'/);
  });

  it('QUERY_TAG joins Snowflake\'s history with the audit log', () => {
    assert.deepEqual(JSON.parse(queryTag({ maxRows: 1, timeoutMs: 1, tag: 'stmt-1' })), { phigate: { statement: 'stmt-1' } });
    assert.deepEqual(JSON.parse(queryTag({ maxRows: 1, timeoutMs: 1, tag: 'stmt-1', session: 's-1' })), { phigate: { statement: 'stmt-1', session: 's-1' } });
  });
});

describe('the warehouse over a stand-in pool', () => {
  const open = (f: ReturnType<typeof fakePool>) => openSnowflakeWarehouse(SPEC, { readOnly: true, namespace: 'team-a', secrets: secret({ username: 'S', password: 'p' }), createPool: f.createPool });

  it('reads the catalog once, streams in batches to maxRows, and tags each statement', async () => {
    const f = fakePool();
    const wh = await open(f);
    const cat = await wh.catalog();
    assert.deepEqual(cat.find({ table: 'patients' })?.columns.map((c) => [c.name, c.type]), [['PATIENT_ID', 'fixed'], ['SSN', 'text'], ['BALANCE', 'fixed'], ['DOB', 'date']]);
    const balance = cat.find({ table: 'PATIENTS' })!.columns[2]!;
    assert.equal(wh.maskExpression({ strategy: 'null' }, '"BALANCE"', balance), 'CAST(NULL AS NUMBER(10,2))', 'typed NULLs keep the declared type');
    const st = await wh.execute('SELECT 1', { maxRows: 2100, timeoutMs: 30_000, tag: 'audit-1' });
    assert.deepEqual(st.columns.map((c) => c.type), ['fixed', 'date', 'timestamp_ntz', 'boolean', 'text']);
    const { rows, batches } = await drain(st);
    assert.equal(rows.length, 2100);
    assert.ok(batches >= 3, `${batches} batches`);
    assert.deepEqual(rows[3], ['3', '3', '-0.500000000', 'false', null]);
    const call = f.calls.find((c) => c.sqlText === 'SELECT 1')!;
    assert.deepEqual(call.parameters, { QUERY_TAG: '{"phigate":{"statement":"audit-1"}}', STATEMENT_TIMEOUT_IN_SECONDS: 30 });
    assert.equal(f.state.acquired, f.state.released, 'every connection goes back to the pool');
    assert.equal(f.calls.filter((c) => /INFORMATION_SCHEMA/.test(c.sqlText)).length, 1);
    await wh.close();
  });

  it('cancels the statement in Snowflake when the agent goes away or the timeout passes', async () => {
    const f = fakePool();
    const wh = await open(f);
    const ac = new AbortController();
    const running = wh.execute('SELECT SLEEP', { maxRows: 10, timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(running, (e: Error) => e.name === 'AbortError');
    assert.ok(f.calls.find((c) => c.sqlText === 'SELECT SLEEP')!.cancelled);
    const timed = wh.execute('SELECT SLEEP 2', { maxRows: 10, timeoutMs: 10 });
    await assert.rejects(timed, (e: Error) => e.name === 'TimeoutError' && /timeout/.test(e.message));
    assert.ok(f.calls.find((c) => c.sqlText === 'SELECT SLEEP 2')!.cancelled);
    assert.equal(f.state.acquired, f.state.released);
    await wh.close();
  });

  it('maps errors without values or credentials, and refreshes the catalog after "invalid identifier"', async () => {
    const f = fakePool({ fail: (sql) => (sql.includes('BAD') ? Object.assign(new Error("SQL compilation error: error line 1 at position 7 invalid identifier 'NEWCOL' p"), { code: '000904' })
      : sql.includes('CAST') ? Object.assign(new Error("Numeric value 'John 555-123-4567' is not recognized; password p"), { code: '100038' }) : undefined) });
    const wh = await open(f);
    await assert.rejects(wh.execute('SELECT CAST(x AS INT)', { maxRows: 1, timeoutMs: 1000 }), (e: Error) => !/555-123-4567|John/.test(e.message) && /100038/.test(e.message));
    await assert.rejects(wh.execute('SELECT BAD', { maxRows: 1, timeoutMs: 1000 }), /invalid identifier 'NEWCOL'/);
    await wh.catalog();
    assert.equal(f.calls.filter((c) => /INFORMATION_SCHEMA/.test(c.sqlText)).length, 2, 'catalog re-read after invalid identifier');
    assert.ok(CATALOG_TTL_MS > 0);
    await wh.close();
  });

  it('cross-checks with EXPLAIN USING JSON, and caches the verdict by fingerprint', async () => {
    let scanned = 'CLINICAL.PUBLIC.PATIENTS';
    const f = fakePool({ explain: () => ({ GlobalStats: {}, Operations: [[{ id: 0, operation: 'Result' }, { id: 1, parentOperators: [0], operation: 'TableScan', objects: [scanned] }]] }) });
    const wh = await open(f);
    const cat = await wh.catalog();
    const expect: RewriteExpectation = { projectionTables: [{ start: 0, end: 8, table: cat.find({ table: 'PATIENTS' })! }], cteReferences: [] };
    await wh.crossCheck('SELECT 1 FROM (SELECT ...) p', expect);
    await wh.crossCheck('SELECT 1 FROM (SELECT ...) p', expect);
    assert.equal(f.calls.filter((c) => c.sqlText.startsWith('EXPLAIN USING JSON ')).length, 1, 'verdict cached');
    scanned = 'CLINICAL.PUBLIC.PAYROLL';
    await assert.rejects(wh.crossCheck('SELECT 2 FROM (SELECT ...) p', expect), EngineDisagreement);
    await assert.rejects(wh.crossCheck('SELECT 2 FROM (SELECT ...) p', expect), EngineDisagreement, 'denial cached too');
    assert.equal(f.calls.filter((c) => c.sqlText.startsWith('EXPLAIN USING JSON ')).length, 2);
    await wh.close();
  });

  it('fails closed when Snowflake cannot EXPLAIN the statement', async () => {
    const f = fakePool({ fail: (sql) => (sql.startsWith('EXPLAIN') ? Object.assign(new Error("SQL compilation error: invalid identifier 'X'"), { code: '000904' }) : undefined) });
    const wh = await open(f);
    const cat = await wh.catalog();
    const expect: RewriteExpectation = { projectionTables: [{ start: 0, end: 8, table: cat.find({ table: 'PATIENTS' })! }], cteReferences: [] };
    await assert.rejects(wh.crossCheck('SELECT x FROM (SELECT ...) p', expect), (e: Error) => e instanceof EngineDisagreement && /could not EXPLAIN.*invalid identifier 'X'/.test(e.message));
    await wh.close();
  });
});
