// Issue 11, "Done means": masking must not get in the way of honest analytics. Each statement
// below is ordinary analytics over columns the policy leaves in clear (and hash-masked keys,
// used only to join or count). Its answer through the gateway, over HTTP, must be exactly the
// warehouse's own answer to the same SQL run directly on the DuckDB file, encoded the way the
// gateway encodes values (src/warehouse/duckdb-values.ts). The test counts how many agree.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { startTestGateway, TOKENS, TEST_CACHE_DIR, type TestGateway } from '../helpers/gateway.ts';
import { demoDatabasePath } from '../../src/warehouse/demo-dataset.ts';
import { cellEncoder, resultColumn } from '../../src/warehouse/duckdb-values.ts';
import { compatMacrosFor } from '../../src/warehouse/duckdb-compat.ts';
import { HOSTILE_POLICY } from '../fixtures/hostile-sql.ts';

/** Every statement orders its output completely, so both answers are deterministic. */
const ANALYTICS: { id: string; sql: string }[] = [
  ['count-patients', `SELECT COUNT(*) AS n FROM patients`],
  ['by-sex', `SELECT sex, COUNT(*) AS n FROM patients GROUP BY sex ORDER BY sex`],
  ['top-states', `SELECT state, COUNT(*) AS n FROM patients GROUP BY state ORDER BY n DESC, state LIMIT 10`],
  ['cities-having', `SELECT city, state, COUNT(*) AS n FROM patients GROUP BY city, state HAVING COUNT(*) > 100 ORDER BY n DESC, city, state`],
  ['charges-by-type', `SELECT encounter_type, COUNT(*) AS n, SUM(total_charge) AS total, AVG(total_charge) AS mean, MIN(total_charge) AS lo, MAX(total_charge) AS hi FROM encounters GROUP BY encounter_type ORDER BY encounter_type`],
  ['top-diagnoses', `SELECT diagnosis_code, COUNT(*) AS n FROM encounters GROUP BY diagnosis_code ORDER BY n DESC, diagnosis_code LIMIT 10`],
  ['encounters-per-year', `SELECT YEAR(admit_date) AS y, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['encounters-per-month-2024', `SELECT DATE_TRUNC('month', admit_date) AS m, COUNT(*) AS n FROM encounters WHERE admit_date >= DATE '2024-01-01' GROUP BY 1 ORDER BY 1`],
  ['mean-stay', `SELECT encounter_type, AVG(discharge_date - admit_date) AS los FROM encounters WHERE discharge_date IS NOT NULL GROUP BY 1 ORDER BY 1`],
  ['open-encounters', `SELECT COUNT(*) AS open_encounters FROM encounters WHERE discharge_date IS NULL`],
  ['visits-by-specialty', `SELECT pr.specialty, COUNT(*) AS visits FROM encounters e JOIN providers pr ON pr.provider_id = e.provider_id GROUP BY pr.specialty ORDER BY visits DESC, pr.specialty`],
  ['patients-seen-by-state', `SELECT p.state, COUNT(DISTINCT e.patient_id) AS patients FROM encounters e JOIN patients p ON p.patient_id = e.patient_id GROUP BY p.state ORDER BY p.state`],
  ['distinct-mrn', `SELECT COUNT(DISTINCT mrn) AS mrns, COUNT(*) AS rows FROM patients`],
  ['self-join-on-mrn', `SELECT COUNT(*) AS pairs FROM patients a JOIN patients b ON a.mrn = b.mrn`],
  ['join-on-hashed-key', `SELECT COUNT(*) AS n FROM patients p JOIN (SELECT mrn FROM patients WHERE state = 'MA') m ON m.mrn = p.mrn`],
  ['distinct-mrn-by-state', `SELECT state, COUNT(DISTINCT mrn) AS mrns FROM patients GROUP BY state ORDER BY state`],
  ['visit-count-histogram', `WITH v AS (SELECT patient_id, COUNT(*) AS n FROM encounters GROUP BY patient_id) SELECT n, COUNT(*) AS patients FROM v GROUP BY n ORDER BY n`],
  ['row-number', `SELECT patient_id, encounter_id, admit_date, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY admit_date, encounter_id) AS rn FROM encounters WHERE patient_id <= 5 ORDER BY patient_id, rn`],
  ['lag', `SELECT encounter_id, admit_date, LAG(admit_date) OVER (PARTITION BY patient_id ORDER BY admit_date, encounter_id) AS previous FROM encounters WHERE patient_id = 7 ORDER BY admit_date, encounter_id`],
  ['rank-subquery', `SELECT encounter_type, encounter_id, total_charge, r FROM (SELECT encounter_type, encounter_id, total_charge, RANK() OVER (PARTITION BY encounter_type ORDER BY total_charge DESC) AS r FROM encounters) t WHERE r <= 3 ORDER BY encounter_type, r, encounter_id`],
  ['rank-qualify', `SELECT encounter_type, encounter_id, total_charge FROM encounters QUALIFY ROW_NUMBER() OVER (PARTITION BY encounter_type ORDER BY total_charge, encounter_id) = 1 ORDER BY encounter_type`],
  ['running-total', `SELECT encounter_id, admit_date, SUM(total_charge) OVER (ORDER BY admit_date, encounter_id) AS running FROM encounters WHERE patient_id = 42 ORDER BY admit_date, encounter_id`],
  ['charge-bands', `SELECT CASE WHEN total_charge < 100 THEN 'low' WHEN total_charge < 1000 THEN 'mid' ELSE 'high' END AS band, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['in-subquery', `SELECT COUNT(*) AS inpatients FROM patients WHERE patient_id IN (SELECT patient_id FROM encounters WHERE encounter_type = 'inpatient')`],
  ['not-exists', `SELECT COUNT(*) AS never_seen FROM patients p WHERE NOT EXISTS (SELECT 1 FROM encounters e WHERE e.patient_id = p.patient_id)`],
  ['scalar-share', `SELECT encounter_type, COUNT(*) * 1.0 / (SELECT COUNT(*) FROM encounters) AS share FROM encounters GROUP BY 1 ORDER BY 1`],
  ['union-all-counts', `SELECT 'patients' AS t, COUNT(*) AS n FROM patients UNION ALL SELECT 'encounters', COUNT(*) FROM encounters UNION ALL SELECT 'providers', COUNT(*) FROM providers`],
  ['busy-providers', `SELECT provider_id, COUNT(*) AS n FROM encounters GROUP BY provider_id HAVING COUNT(*) > 270 ORDER BY n DESC, provider_id`],
  ['top-charges', `SELECT encounter_id, total_charge FROM encounters ORDER BY total_charge DESC, encounter_id LIMIT 5`],
  ['by-month', `SELECT MONTH(admit_date) AS m, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['by-weekday', `SELECT DAYOFWEEK(admit_date) AS d, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['extract-year', `SELECT EXTRACT(YEAR FROM admit_date) AS y, SUM(total_charge) AS total FROM encounters GROUP BY 1 ORDER BY 1`],
  ['patients-created-per-year', `SELECT YEAR(created_at) AS y, COUNT(*) AS n FROM patients GROUP BY 1 ORDER BY 1`],
  ['providers-by-specialty', `SELECT specialty, COUNT(*) AS n FROM providers GROUP BY specialty ORDER BY specialty`],
  ['provider-directory', `SELECT provider_id, npi, name, specialty FROM providers ORDER BY provider_id LIMIT 25`],
  ['three-way-join', `SELECT pr.specialty, p.sex, COUNT(*) AS n FROM encounters e JOIN patients p ON p.patient_id = e.patient_id JOIN providers pr ON pr.provider_id = e.provider_id GROUP BY 1, 2 ORDER BY 1, 2`],
  ['left-join-counts', `SELECT p.patient_id, COUNT(e.encounter_id) AS visits FROM patients p LEFT JOIN encounters e ON e.patient_id = p.patient_id WHERE p.patient_id <= 20 GROUP BY p.patient_id ORDER BY p.patient_id`],
  ['open-by-type', `SELECT encounter_type, SUM(CASE WHEN discharge_date IS NULL THEN 1 ELSE 0 END) AS open_count FROM encounters GROUP BY 1 ORDER BY 1`],
  ['spend-quartiles', `WITH a AS (SELECT patient_id, SUM(total_charge) AS spend FROM encounters GROUP BY patient_id), b AS (SELECT patient_id, spend, NTILE(4) OVER (ORDER BY spend, patient_id) AS q FROM a) SELECT q, COUNT(*) AS n, MIN(spend) AS lo, MAX(spend) AS hi FROM b GROUP BY q ORDER BY q`],
  ['median-charge', `SELECT encounter_type, MEDIAN(total_charge) AS med FROM encounters GROUP BY 1 ORDER BY 1`],
  ['stddev-charge', `SELECT encounter_type, ROUND(STDDEV(total_charge), 2) AS sd FROM encounters GROUP BY 1 ORDER BY 1`],
  ['string-functions', `SELECT UPPER(state) AS st, LENGTH(city) AS len, COUNT(*) AS n FROM patients GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 20`],
  ['icd-chapter', `SELECT SUBSTR(diagnosis_code, 1, 1) AS chapter, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['above-average', `SELECT COUNT(*) AS n FROM encounters WHERE total_charge > (SELECT AVG(total_charge) FROM encounters)`],
  ['in-list', `SELECT diagnosis_code, COUNT(*) AS n FROM encounters WHERE diagnosis_code IN ('I10', 'E11.9', 'J45.909') GROUP BY 1 ORDER BY 1`],
  ['between-dates', `SELECT COUNT(*) AS n FROM encounters WHERE admit_date BETWEEN DATE '2020-03-01' AND DATE '2020-03-31'`],
  ['like-prefix', `SELECT COUNT(*) AS n FROM encounters WHERE diagnosis_code LIKE 'E11%'`],
  ['distinct-types', `SELECT DISTINCT encounter_type FROM encounters ORDER BY 1`],
  ['count-if', `SELECT COUNT_IF(encounter_type = 'emergency') AS er, COUNT_IF(total_charge > 5000) AS big FROM encounters`],
  ['coalesce-discharge', `SELECT encounter_id, COALESCE(discharge_date, admit_date) AS closed FROM encounters WHERE patient_id = 11 ORDER BY encounter_id`],
  ['first-value-provider', `SELECT DISTINCT patient_id, FIRST_VALUE(provider_id) OVER (PARTITION BY patient_id ORDER BY admit_date, encounter_id) AS first_provider FROM encounters WHERE patient_id <= 10 ORDER BY patient_id`],
  ['date-diff', `SELECT encounter_type, MAX(DATEDIFF('day', admit_date, discharge_date)) AS longest FROM encounters GROUP BY 1 ORDER BY 1`],
  ['cte-join', `WITH spend AS (SELECT provider_id, SUM(total_charge) AS total FROM encounters GROUP BY provider_id) SELECT pr.specialty, SUM(s.total) AS total FROM spend s JOIN providers pr ON pr.provider_id = s.provider_id GROUP BY pr.specialty ORDER BY pr.specialty`],
  // The same kind of analytics, written the way agents often send it.
  ['trailing-semicolon', `SELECT COUNT(*) AS n FROM encounters;`],
  ['leading-newline', `\nSELECT encounter_type, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['comment-after-table', `SELECT encounter_type, COUNT(*) AS n\nFROM encounters -- every visit\nGROUP BY 1 ORDER BY 1`],
  ['parenthesised-union', `(SELECT 'inpatient' AS t, COUNT(*) AS n FROM encounters WHERE encounter_type = 'inpatient') UNION ALL (SELECT 'emergency', COUNT(*) FROM encounters WHERE encounter_type = 'emergency') ORDER BY 1`],
  ['recursive-calendar', `WITH RECURSIVE d(day) AS (SELECT MIN(admit_date) FROM encounters WHERE admit_date >= DATE '2024-01-01' UNION ALL SELECT day + 1 FROM d WHERE day < DATE '2024-01-07') SELECT d.day, COUNT(e.encounter_id) AS n FROM d LEFT JOIN encounters e ON e.admit_date = d.day GROUP BY d.day ORDER BY d.day`],
  // Snowflake's own functions, which the embedded DuckDB runs as macros (duckdb-compat.ts).
  ['snowflake-iff', `SELECT IFF(total_charge > 5000, 'big', 'small') AS size, COUNT(*) AS n FROM encounters GROUP BY 1 ORDER BY 1`],
  ['snowflake-nvl', `SELECT encounter_id, NVL(discharge_date, admit_date) AS closed FROM encounters WHERE patient_id = 11 ORDER BY encounter_id`],
  ['snowflake-regexp-like', `SELECT COUNT(*) AS n FROM encounters WHERE REGEXP_LIKE(diagnosis_code, 'E11.*')`],
  ['snowflake-zeroifnull', `SELECT encounter_type, ZEROIFNULL(SUM(total_charge)) AS total FROM encounters GROUP BY 1 ORDER BY 1`],
].map(([id, sql]) => ({ id: id!, sql: sql! }));

interface Answer { status: number; rule?: string; message?: string; columns: string[][]; data: (string | null)[][] }

let gw: TestGateway;
let db: DuckDBInstance;
let conn: DuckDBConnection;

before(async () => {
  const file = await demoDatabasePath({ cacheDir: TEST_CACHE_DIR });
  gw = await startTestGateway(HOSTILE_POLICY, TOKENS);
  db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  conn = await db.connect();
});
after(async () => {
  conn?.disconnectSync();
  db?.closeSync();
  await gw?.close();
});

async function throughGateway(sql: string): Promise<Answer> {
  const r = await gw.post('tok-a', { statement: sql });
  if (r.status !== 200) return { status: r.status, rule: r.json?.rule, message: r.json?.message, columns: [], data: [] };
  return {
    status: 200,
    columns: r.json.resultSetMetaData.rowType.map((c: any) => [c.name, c.type]),
    data: r.json.data,
  };
}

/** The warehouse's own answer, encoded as the gateway encodes values. */
async function direct(sql: string): Promise<Answer> {
  const compat = compatMacrosFor(sql);
  if (compat) await conn.run(compat.replaceAll('CREATE TEMP MACRO', 'CREATE OR REPLACE TEMP MACRO'));
  const result = await conn.run(sql);
  const types = result.columnTypes();
  const names = result.columnNames();
  const encoders = types.map(cellEncoder);
  const data: (string | null)[][] = [];
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const vectors = encoders.map((_, i) => chunk!.getColumnVector(i));
    for (let r = 0; r < chunk.rowCount; r++) data.push(encoders.map((enc, c) => enc(vectors[c]!, r)));
  }
  return { status: 200, columns: names.map((n, i) => { const c = resultColumn(n, types[i]!); return [c.name, c.type]; }), data };
}

describe('legitimate analytics through the gateway', () => {
  it('has at least 40 statements with unique ids', (t) => {
    t.diagnostic(`analytics statements: ${ANALYTICS.length}`);
    assert.ok(ANALYTICS.length >= 40);
    assert.equal(new Set(ANALYTICS.map((a) => a.id)).size, ANALYTICS.length);
  });

  it('answers exactly as the warehouse does on the unmasked columns', async (t) => {
    const failures: string[] = [];
    let passed = 0;
    for (const a of ANALYTICS) {
      const want = await direct(a.sql);
      assert.ok(want.data.length > 0 && want.data.length < 1000, `${a.id}: the direct answer has 1..999 rows (${want.data.length})`);
      const got = await throughGateway(a.sql);
      if (got.status !== 200) {
        failures.push(`${a.id}: refused ${got.status} ${got.rule}: ${got.message} | ${a.sql}`);
      } else if (JSON.stringify(got.columns) !== JSON.stringify(want.columns)) {
        failures.push(`${a.id}: columns ${JSON.stringify(got.columns)} ≠ ${JSON.stringify(want.columns)}`);
      } else if (JSON.stringify(got.data) !== JSON.stringify(want.data)) {
        const i = got.data.findIndex((row, k) => JSON.stringify(row) !== JSON.stringify(want.data[k]));
        failures.push(`${a.id}: ${got.data.length} rows vs ${want.data.length}; first difference at row ${i}: ${JSON.stringify(got.data[i])} ≠ ${JSON.stringify(want.data[i])}`);
      } else {
        passed++;
      }
    }
    t.diagnostic(`analytics statements equal to the warehouse's answer: ${passed}/${ANALYTICS.length}`);
    for (const f of failures) t.diagnostic(`MISMATCH ${f}`);
    assert.deepEqual(failures, []);
  });
});
