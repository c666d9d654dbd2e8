// Every mask strategy's Snowflake SQL (src/warehouse/snowflake-sql.ts), run in the fakesnow
// emulator through the unmodified Python connector, gives the same values as the DuckDB
// adapter's SQL (src/warehouse/duckdb-sql.ts) run in DuckDB on the same inputs.
// fakesnow translates Snowflake SQL to DuckDB with sqlglot, so this proves the text is valid
// Snowflake SQL that its functions (SHA2, SPLIT_PART, TRANSLATE, REGEXP_REPLACE, DATE_TRUNC,
// CONVERT_TIMEZONE, ...) accept with these arguments; it cannot prove Snowflake's own regex
// engine agrees (test/unit/masking/sql-engines.test.ts covers the POSIX side of that).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ensureVenv, freePort, runPython, startPythonServer, type PyServer } from '../helpers/python.ts';
import { ROOT } from '../helpers/cli.ts';
import { snowflakeMaskExpression, sqlString as sfString } from '../../src/warehouse/snowflake-sql.ts';
import { duckdbMaskExpression, sqlString as duckString } from '../../src/warehouse/duckdb-sql.ts';
import type { CatalogColumn, MaskPlan } from '../../src/warehouse/types.ts';
import { ALL_DETECTORS } from '../../src/masking/detectors.ts';

const TEXTS: (string | null)[] = [
  'jane.doe@example.org', 'no-at-sign', 'two@at@signs.io', 'trailing@', '123-45-6789', '  02139', '036xx', '10001-1234', '9', '', null,
  'SSN 123-45-6789, call (555) 123-4567 or mail x@y.com; MRN: 00123456 seen 2024-01-31',
  "quote ' and backslash \\ stay",
];
const DATES: (string | null)[] = ['1980-05-06', '2001-12-31', '1970-01-01', null];
const STAMPS: (string | null)[] = ['2020-01-02 03:04:05.123456', '1999-12-31 23:59:59', null];
const NUMBERS: (number | null)[] = [2139, 36123, 7, 123456789, null];

const col = (name: string, type: CatalogColumn['type']): CatalogColumn => ({ name, type, textual: type === 'text' });
const KEY = 'test-hash-key';
const PLANS: { label: string; plan: MaskPlan; column: CatalogColumn; sfType?: string; duckType?: string }[] = [
  ...(['redact', 'null', 'hash', 'zip3', 'email_domain'] as const).map((s) => ({ label: `${s} text`, plan: { strategy: s, hashKey: KEY } as MaskPlan, column: col('T', 'text') })),
  { label: 'partial text keep 4', plan: { strategy: 'partial', keep: 4 }, column: col('T', 'text') },
  { label: 'partial text keep 0', plan: { strategy: 'partial', keep: 0 }, column: col('T', 'text') },
  { label: 'scrub text', plan: { strategy: 'scrub', detectors: [...ALL_DETECTORS] }, column: col('T', 'text') },
  { label: 'year date', plan: { strategy: 'year' }, column: col('D', 'date') },
  { label: 'redact date', plan: { strategy: 'redact' }, column: col('D', 'date') },
  { label: 'year timestamp', plan: { strategy: 'year' }, column: col('TS', 'timestamp_ntz') },
  { label: 'zip3 number', plan: { strategy: 'zip3' }, column: col('N', 'fixed') },
  { label: 'partial number', plan: { strategy: 'partial', keep: 2 }, column: col('N', 'fixed') },
];

let fake: PyServer;
before(async () => {
  await ensureVenv();
  const port = await freePort();
  fake = await startPythonServer([join(ROOT, 'test/fixtures/fakesnow_json.py'), String(port)], port, { readyPath: '/telemetry/ping' });
});
after(async () => { await fake?.stop(); });

/** Each expression over one column of a one-column table, in Snowflake (fakesnow) and DuckDB. */
async function snowflakeValues(exprs: string[], column: string, sqlType: string, values: unknown[]): Promise<(string | null)[][]> {
  const literal = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : sfString(String(v)));
  const script = `
import sys, json, snowflake.connector
c = snowflake.connector.connect(account="fake", user="u", password="p", host="127.0.0.1", port=int(sys.argv[1]), protocol="http", database="M", schema="S")
cur = c.cursor()
spec = json.loads(sys.stdin.read()) if False else json.loads(sys.argv[2])
cur.execute("CREATE DATABASE IF NOT EXISTS M"); cur.execute("CREATE SCHEMA IF NOT EXISTS M.S"); cur.execute("USE SCHEMA M.S")
cur.execute(spec["create"])
cur.execute(spec["insert"])
out = []
for e in spec["exprs"]:
    cur.execute(f"SELECT {e} FROM V ORDER BY I")
    out.append([None if r[0] is None else str(r[0]) for r in cur.fetchall()])
print(json.dumps(out))
`;
  const spec = {
    create: `CREATE OR REPLACE TABLE V (I NUMBER, ${column} ${sqlType})`,
    insert: `INSERT INTO V VALUES ${values.map((v, i) => `(${i}, ${literal(v)})`).join(', ')}`,
    exprs,
  };
  const out = await runPython(script, [String(fake.port), JSON.stringify(spec)], { timeoutMs: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function duckdbValues(exprs: string[], column: string, sqlType: string, values: unknown[]): Promise<(string | null)[][]> {
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    const literal = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : duckString(String(v)));
    await conn.run(`CREATE TABLE V (I INTEGER, ${column} ${sqlType})`);
    await conn.run(`INSERT INTO V VALUES ${values.map((v, i) => `(${i}, ${literal(v)})`).join(', ')}`);
    const out: (string | null)[][] = [];
    for (const e of exprs) {
      const r = await conn.runAndReadAll(`SELECT CAST(${e} AS VARCHAR) FROM V ORDER BY I`);
      out.push(r.getRowsJS().map((row) => (row[0] === null ? null : String(row[0]))));
    }
    return out;
  } finally { conn.closeSync(); }
}

/** Both engines' text for a date/timestamp, reduced to what the mask keeps. */
const norm = (v: string | null) => (v === null ? null : v.replace(/ 00:00:00(\.0+)?$/, '').replace(/T/, ' '));

describe('Snowflake mask expressions, run in fakesnow, agree with DuckDB\'s', () => {
  const groups: { column: string; sfType: string; duckType: string; values: unknown[] }[] = [
    { column: 'T', sfType: 'VARCHAR', duckType: 'VARCHAR', values: TEXTS },
    { column: 'D', sfType: 'DATE', duckType: 'DATE', values: DATES },
    { column: 'TS', sfType: 'TIMESTAMP_NTZ', duckType: 'TIMESTAMP', values: STAMPS },
    { column: 'N', sfType: 'NUMBER(38,0)', duckType: 'BIGINT', values: NUMBERS },
  ];
  for (const g of groups) {
    const plans = PLANS.filter((p) => p.column.name === g.column);
    it(`${g.column} (${g.sfType}): ${plans.map((p) => p.label).join(', ')}`, async () => {
      const sf = await snowflakeValues(plans.map((p) => snowflakeMaskExpression(p.plan, `"${g.column}"`, p.column)), g.column, g.sfType, g.values);
      const dk = await duckdbValues(plans.map((p) => duckdbMaskExpression(p.plan, `"${g.column}"`, p.column)), g.column, g.duckType, g.values);
      plans.forEach((p, i) => {
        assert.deepEqual(sf[i]!.map(norm), dk[i]!.map(norm), `${p.label}: Snowflake ${JSON.stringify(sf[i])} vs DuckDB ${JSON.stringify(dk[i])}`);
      });
      if (g.column === 'T') {
        const scrubbed = sf[plans.findIndex((p) => p.plan.strategy === 'scrub')]!;
        assert.ok(!scrubbed.some((v) => v && /123-45-6789|555\) 123-4567|x@y\.com/.test(v)), JSON.stringify(scrubbed));
      }
    });
  }
});
