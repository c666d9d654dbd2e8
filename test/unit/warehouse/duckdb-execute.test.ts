// execute(): streaming with a row cap, Snowflake value encoding, cancellation, concurrency, and
// the statement types it refuses. Runs on the demo dataset, generated once into a temp cache.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CANARY, ROW_COUNTS } from '../../../src/warehouse/demo-dataset.ts';
import { StatementInterrupted, openDuckDBWarehouse } from '../../../src/warehouse/duckdb.ts';
import type { ExecuteOptions, Warehouse } from '../../../src/warehouse/types.ts';
import { drain, tempDir } from './helpers.ts';

const opts = (o: Partial<ExecuteOptions> = {}): ExecuteOptions => ({ maxRows: 100_000, timeoutMs: 20_000, ...o });
/** Long enough to still be running when a test stops it (minutes on any machine). */
const SLOW_AGGREGATE = 'SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3';
const ENDLESS_STREAM = 'SELECT x FROM range(100000000000) t(x)';

describe('DuckDB warehouse execute', () => {
  let cache: Awaited<ReturnType<typeof tempDir>>;
  let wh: Warehouse;

  before(async () => {
    cache = await tempDir('execute');
    wh = await openDuckDBWarehouse({ path: ':demo:' }, { readOnly: true, cacheDir: cache.path });
  });

  after(async () => {
    await wh?.close();
    await cache?.remove();
  });

  it('opens the demo dataset read-only with its catalog', async () => {
    assert.equal(wh.engine, 'duckdb');
    assert.equal(wh.readOnly, true);
    const cat = await wh.catalog();
    assert.equal(cat.database, 'clinical');
    assert.equal(cat.schema, 'main');
    assert.deepEqual(cat.tables().map((t) => t.name).sort(), ['encounters', 'patients', 'providers']);
    const enc = cat.find({ table: 'ENCOUNTERS' })!;
    assert.deepEqual(enc.columns.find((c) => c.name === 'total_charge'), { name: 'total_charge', type: 'fixed', textual: false });
    assert.deepEqual(enc.columns.find((c) => c.name === 'notes'), { name: 'notes', type: 'text', textual: true });
    assert.equal(cat.find({ table: 'patients' })!.columns.find((c) => c.name === 'created_at')!.type, 'timestamp_ntz');
  });

  it('streams chunk by chunk and cuts at maxRows', async () => {
    const rs = await wh.execute('SELECT encounter_id FROM encounters ORDER BY encounter_id', opts({ maxRows: 2500 }));
    const { rows, chunkSizes } = await drain(rs);
    assert.equal(rows.length, 2500);
    assert.ok(chunkSizes.length >= 2, 'more than one chunk');
    assert.equal(chunkSizes.reduce((a, b) => a + b, 0), 2500);
    assert.deepEqual(rows[0], ['1']);
    assert.deepEqual(rows[2499], ['2500']);
  });

  it('returns everything when the result is below maxRows', async () => {
    const { rows } = await drain(await wh.execute('SELECT provider_id FROM providers', opts()));
    assert.equal(rows.length, ROW_COUNTS.providers);
    const { rows: none } = await drain(await wh.execute('SELECT 1 WHERE false', opts()));
    assert.deepEqual(none, []);
  });

  it('knows the columns before the first row', async () => {
    const rs = await wh.execute('SELECT patient_id, mrn, dob, created_at FROM patients LIMIT 1', opts());
    assert.deepEqual(rs.columns, [
      { name: 'patient_id', type: 'fixed', textual: false, nullable: true },
      { name: 'mrn', type: 'text', textual: true, nullable: true },
      { name: 'dob', type: 'date', textual: false, nullable: true },
      { name: 'created_at', type: 'timestamp_ntz', textual: false, nullable: true },
    ]);
    rs.cancel();
  });

  it('encodes values as the Snowflake SQL API does', async () => {
    const sql = `SELECT
      42::INTEGER AS i, (-7)::BIGINT AS bi, 123456789012345678901234567890::HUGEINT AS h,
      12.5::DECIMAL(10,2) AS d, (-0.05)::DECIMAL(10,2) AS dn, 3::DECIMAL(38,0) AS d0,
      1.5::DOUBLE AS r, 1.1::FLOAT AS f, true AS b, false AS b2,
      DATE '2020-01-01' AS dt, DATE '1969-12-31' AS dt_neg,
      TIMESTAMP '2023-11-14 22:13:20' AS ts, TIMESTAMP '2023-11-14 22:13:20.123456' AS ts_us,
      TIMESTAMP '1969-12-31 23:59:59.5' AS ts_neg, TIMESTAMP_NS '2023-11-14 22:13:20.123456789' AS ts_ns,
      TIMESTAMP_MS '2023-11-14 22:13:20.123' AS ts_ms, TIMESTAMP_S '2023-11-14 22:13:20' AS ts_s,
      TIMESTAMPTZ '2023-11-14 22:13:20+00' AS tz,
      TIME '01:02:03.25' AS tm, 'héllo ''quoted''' AS s, '\\xAA\\x01'::BLOB AS bl,
      [1, 2] AS l, {'a': 1, 'b': 'x'} AS st, '{"k": [1]}'::JSON AS j,
      NULL::VARCHAR AS n, NULL::DATE AS nd`;
    const rs = await wh.execute(sql, opts());
    const { rows } = await drain(rs);
    const got = Object.fromEntries(rs.columns.map((c, i) => [c.name, rows[0]![i]]));
    assert.deepEqual(got, {
      i: '42', bi: '-7', h: '123456789012345678901234567890',
      d: '12.50', dn: '-0.05', d0: '3',
      r: '1.5', f: '1.1', b: 'true', b2: 'false',
      dt: '18262', dt_neg: '-1',
      ts: '1700000000.000000000', ts_us: '1700000000.123456000',
      ts_neg: '-0.500000000', ts_ns: '1700000000.123456789',
      ts_ms: '1700000000.123000000', ts_s: '1700000000.000000000',
      tz: '1700000000.000000000 1440',
      tm: '3723.250000000', s: "héllo 'quoted'", bl: 'aa01',
      l: '[1,2]', st: '{"a":1,"b":"x"}', j: '{"k": [1]}',
      n: null, nd: null,
    });
    const types = Object.fromEntries(rs.columns.map((c) => [c.name, c.type]));
    assert.deepEqual(types, {
      i: 'fixed', bi: 'fixed', h: 'fixed', d: 'fixed', dn: 'fixed', d0: 'fixed', r: 'real', f: 'real',
      b: 'boolean', b2: 'boolean', dt: 'date', dt_neg: 'date', ts: 'timestamp_ntz', ts_us: 'timestamp_ntz',
      ts_neg: 'timestamp_ntz', ts_ns: 'timestamp_ntz', ts_ms: 'timestamp_ntz', ts_s: 'timestamp_ntz',
      tz: 'timestamp_tz', tm: 'time', s: 'text', bl: 'binary', l: 'variant', st: 'variant', j: 'variant',
      n: 'text', nd: 'date',
    });
    assert.deepEqual(rs.columns.filter((c) => c.textual).map((c) => c.name), ['s', 'n']);
  });

  it('encodes the demo columns', async () => {
    const { rows } = await drain(await wh.execute(
      `SELECT e.total_charge, e.admit_date, p.dob, p.created_at FROM encounters e JOIN patients p USING (patient_id)
       WHERE p.patient_id = ${CANARY.patientId} ORDER BY e.encounter_id`, opts()));
    assert.equal(rows.length, 2);
    const [charge, admit, dob, created] = rows[0]!;
    assert.match(String(charge), /^\d+\.\d{2}$/);
    assert.match(String(admit), /^\d+$/);
    assert.equal(dob, String(Date.parse(`${CANARY.dob}T00:00:00Z`) / 86_400_000));
    assert.match(String(created), /^\d+\.\d{9}$/);
  });

  it('runs concurrent statements side by side', async () => {
    const queries = ['SELECT count(*) FROM patients', 'SELECT count(*) FROM encounters', 'SELECT count(*) FROM providers',
      'SELECT count(*) FROM encounters e JOIN patients p USING (patient_id)'];
    const results = await Promise.all(queries.map(async (q) => (await drain(await wh.execute(q, opts()))).rows));
    assert.deepEqual(results, [[[String(ROW_COUNTS.patients)]], [[String(ROW_COUNTS.encounters)]],
      [[String(ROW_COUNTS.providers)]], [[String(ROW_COUNTS.encounters)]]]);
  });

  it('stops a running statement when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(wh.execute(SLOW_AGGREGATE, opts({ signal: ac.signal })),
      (e: Error) => e instanceof StatementInterrupted && e.name === 'AbortError');
    assert.ok(Date.now() - started < 5000);
  });

  it('stops a stream mid-way when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const rs = await wh.execute(ENDLESS_STREAM, opts({ signal: ac.signal }));
    const it = rs.chunks[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    ac.abort();
    await assert.rejects(it.next(), (e: Error) => e.name === 'AbortError');
  });

  it('refuses to start with an already aborted signal', async () => {
    await assert.rejects(wh.execute('SELECT 1', opts({ signal: AbortSignal.abort() })), (e: Error) => e.name === 'AbortError');
  });

  it('stops a statement at its timeout', async () => {
    const started = Date.now();
    await assert.rejects(wh.execute(SLOW_AGGREGATE, opts({ timeoutMs: 100 })),
      (e: Error) => e instanceof StatementInterrupted && e.name === 'TimeoutError' && !e.message.includes('range'));
    assert.ok(Date.now() - started < 5000);
  });

  it('ends the stream quietly after cancel()', async () => {
    const rs = await wh.execute(ENDLESS_STREAM, opts());
    const it = rs.chunks[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    rs.cancel();
    assert.equal((await it.next()).done, true);
    // A stream cancelled before anyone read it releases its connection too.
    (await wh.execute(ENDLESS_STREAM, opts())).cancel();
  });

  it('runs exactly one statement, and only SELECT or EXPLAIN when read-only', async () => {
    await assert.rejects(wh.execute('SELECT 1; SELECT 2', opts()), /exactly one statement/);
    for (const sql of ['SET threads = 1', 'PRAGMA enable_profiling', 'CREATE TEMP TABLE t AS SELECT 1',
      "CALL pragma_version()", "ATTACH ':memory:' AS m", 'BEGIN TRANSACTION', "SET VARIABLE x = 1", 'USE main',
      "COPY patients TO '/tmp/phigate-should-not-exist.csv'", 'INSTALL httpfs', 'LOAD httpfs', 'CHECKPOINT']) {
      await assert.rejects(wh.execute(sql, opts()), /does not run|Permission|read-only/, sql);
    }
    const { rows } = await drain(await wh.execute('EXPLAIN SELECT * FROM patients', opts()));
    assert.ok(rows.length > 0);
  });

  it('gives a writable demo its own copy of the dataset', async () => {
    const rw = await openDuckDBWarehouse({ path: ':demo:' }, { readOnly: false, cacheDir: cache.path });
    try {
      assert.equal(rw.readOnly, false);
      await drain(await rw.execute('DELETE FROM providers', opts()));
      assert.deepEqual((await drain(await rw.execute('SELECT count(*) FROM providers', opts()))).rows, [['0']]);
    } finally {
      await rw.close();
    }
    // The shared cached file, and so the read-only warehouse, is untouched.
    assert.deepEqual((await drain(await wh.execute('SELECT count(*) FROM providers', opts()))).rows, [[String(ROW_COUNTS.providers)]]);
  });

  it('runs Snowflake functions DuckDB lacks, with Snowflake\'s answers', async () => {
    // Expected values as Snowflake documents them for these calls.
    const cases: [string, string | null][] = [
      ["IFF(1 < 2, 'yes', 'no')", 'yes'],
      ["IFF(NULL, 'yes', 'no')", 'no'],
      ['NVL(NULL, 7)', '7'],
      ["NVL2(NULL, 'set', 'unset')", 'unset'],
      ["NVL2('x', 'set', 'unset')", 'set'],
      ['ZEROIFNULL(NULL)', '0'],
      ['NULLIFZERO(0)', null],
      ["REGEXP_LIKE('E11.9', 'E11.*')", 'true'],
      ["REGEXP_LIKE('xE11.9', 'E11.*')", 'false'], // whole-subject match
      ["REGEXP_LIKE('e11.9', 'E11.*', 'i')", 'true'],
      ["REGEXP_SUBSTR('room 42b', '[0-9]+')", '42'],
      ["REGEXP_SUBSTR('no digits', '[0-9]+')", null],
      ["TO_DATE('2024-02-29')", '19782'], // a DATE, in the SQL API's encoding: days since 1970-01-01
      ["TRY_TO_DATE('not a date')", null],
      ["TO_NUMBER('12')", '12'],
      ["TRY_TO_NUMBER('twelve')", null],
      ['TO_VARCHAR(42)', '42'],
      ["to_char(DATE '2024-01-05')", '2024-01-05'],
    ];
    for (const [expr, want] of cases) {
      const { rows } = await drain(await wh.execute(`SELECT ${expr} AS v`, opts()));
      assert.deepEqual(rows, [[want]], expr);
    }
    // On table columns, and only on the connection that asked: the next statement starts clean.
    const { rows } = await drain(await wh.execute("SELECT IFF(sex = 'F', 'F', 'other') AS s, COUNT(*) AS n FROM patients GROUP BY 1 ORDER BY 1", opts()));
    assert.equal(rows.length, 2);
    await assert.rejects(wh.execute("SELECT iff FROM (SELECT 1 AS iff) WHERE TO_DATE IS NULL", opts()), /TO_DATE|to_date/i, 'a name without a call is not a macro');
    // A form the macros do not have is refused in Snowflake's terms.
    await assert.rejects(wh.execute("SELECT TO_DATE('2024', 'YYYY') AS d", opts()), /TO_DATE takes 1 argument on phigate's embedded warehouse \(no format models\)/);
    await assert.rejects(wh.execute("SELECT REGEXP_LIKE('a', 'a', 'i', 1) AS m", opts()), /REGEXP_LIKE takes 2 or 3 arguments/);
  });
});
