// crossCheck: DuckDB's own parser must find every base table exactly where the rewrite put
// one of its projections, and nothing else that reads data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDuckDBWarehouse } from '../../../src/warehouse/duckdb.ts';
import { EngineDisagreement, type CatalogTable, type RewriteExpectation, type Warehouse } from '../../../src/warehouse/types.ts';
import { makeDuckDBFile, tempDir } from './helpers.ts';

type Part = string | { table: CatalogTable; text?: string } | { cte: string };

/** Concatenates text parts, recording where each table or CTE reference lands. */
function build(...parts: Part[]): { sql: string; expect: RewriteExpectation } {
  let sql = '';
  const expect: RewriteExpectation = { projectionTables: [], cteReferences: [] };
  for (const p of parts) {
    if (typeof p === 'string') { sql += p; continue; }
    const start = sql.length;
    if ('cte' in p) {
      sql += p.cte;
      expect.cteReferences.push({ start, end: sql.length, name: p.cte });
    } else {
      sql += p.text ?? `clinical.main.${p.table.name}`;
      expect.projectionTables.push({ start, end: sql.length, table: p.table });
    }
  }
  return { sql, expect };
}

describe('DuckDB crossCheck', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let wh: Warehouse;
  let patients: CatalogTable;
  let encounters: CatalogTable;
  /** A masked projection of patients, as the rewrite would splice it in. */
  const P = (): Part[] => ['(SELECT "patient_id", CAST(\'[REDACTED]\' AS VARCHAR) AS "ssn" FROM ', { table: patients }, ')'];
  const E = (): Part[] => ['(SELECT "encounter_id", "patient_id" FROM ', { table: encounters }, ')'];

  before(async () => {
    dir = await tempDir('crosscheck');
    const file = await makeDuckDBFile(dir.path, 'clinical.duckdb',
      'CREATE TABLE patients (patient_id INTEGER, ssn VARCHAR); CREATE TABLE encounters (encounter_id INTEGER, patient_id INTEGER);');
    wh = await openDuckDBWarehouse({ path: file }, { readOnly: true });
    const cat = await wh.catalog();
    patients = cat.find({ table: 'patients' })!;
    encounters = cat.find({ table: 'encounters' })!;
  });

  after(async () => {
    await wh?.close();
    await dir?.remove();
  });

  const accepts = async (b: { sql: string; expect: RewriteExpectation }) => wh.crossCheck(b.sql, b.expect);
  const rejects = async (b: { sql: string; expect: RewriteExpectation }, message: RegExp) =>
    assert.rejects(wh.crossCheck(b.sql, b.expect), (e: Error) => e instanceof EngineDisagreement && message.test(e.message));

  describe('accepts', () => {
    it('a single projection', () => accepts(build('SELECT p.ssn FROM ', ...P(), ' p WHERE p.patient_id = 1')));

    it('a join of projections', () => accepts(build(
      'SELECT p.ssn, e.encounter_id FROM ', ...P(), ' p JOIN ', ...E(), ' e ON p.patient_id = e.patient_id')));

    it('projections in WHERE subqueries (IN, EXISTS, scalar) and in a UNION', () => accepts(build(
      'SELECT p.patient_id FROM ', ...P(), ' p WHERE p.patient_id IN (SELECT patient_id FROM ', ...E(), ' e)',
      ' AND EXISTS (SELECT 1 FROM ', ...E(), ' e2 WHERE e2.patient_id = p.patient_id)',
      ' AND (SELECT count(*) FROM ', ...E(), ' e3) > 0',
      ' UNION ALL SELECT patient_id FROM ', ...E(), ' e4')));

    it('a LATERAL subquery', () => accepts(build(
      'SELECT * FROM ', ...P(), ' p, LATERAL (SELECT * FROM ', ...E(), ' e WHERE e.patient_id = p.patient_id) l')));

    it('CTEs referring to earlier CTEs', () => accepts(build(
      'WITH a AS (SELECT * FROM ', ...P(), ' p), b AS (SELECT * FROM ', { cte: 'a' }, ') SELECT * FROM ', { cte: 'b' },
      ' JOIN ', { cte: 'A' }, ' USING (patient_id)')));

    it('a recursive CTE referring to itself', () => accepts(build(
      'WITH RECURSIVE r AS (SELECT patient_id FROM ', ...P(), ' p UNION ALL SELECT patient_id + 1 FROM ', { cte: 'r' },
      ' WHERE patient_id < 3) SELECT * FROM ', { cte: 'r' })));

    it('quoted and upper-case names, VALUES', () => accepts(build(
      'SELECT * FROM (SELECT "patient_id" FROM ', { table: patients, text: '"CLINICAL"."Main"."PATIENTS"' }, ') p',
      ", (VALUES (1), (2)) v(x)")));

    it('a statement with a trailing semicolon', () => accepts(build('SELECT * FROM ', ...P(), ' p;')));
  });

  describe('rejects', () => {
    it('an extra base table outside every projection', async () => {
      await rejects(build('SELECT * FROM ', ...P(), ' p JOIN encounters e ON true'), /outside every phigate projection/);
      await rejects(build('SELECT * FROM ', ...P(), ' p WHERE p.patient_id IN (SELECT patient_id FROM clinical.main.encounters)'),
        /outside every phigate projection/);
      await rejects(build('SELECT (SELECT max(ssn) FROM patients) FROM ', ...P(), ' p'), /outside every phigate projection/);
      await rejects(build("SELECT * FROM ", ...P(), " p, '/etc/passwd'"), /outside every phigate projection/);
    });

    it('a table function', async () => {
      await rejects(build("SELECT * FROM ", ...P(), " p, read_csv('/etc/passwd')"), /table function/);
      await rejects(build('SELECT * FROM range(10) r(x), ', ...P(), ' p'), /table function/);
      await rejects(build("SELECT * FROM ", ...P(), " p WHERE p.ssn IN (SELECT * FROM query('SELECT ssn FROM patients'))"), /table function/);
    });

    it('a table at a different position than the rewrite says', async () => {
      const b = build('SELECT * FROM ', ...P(), ' p');
      const shifted = { ...b.expect, projectionTables: b.expect.projectionTables.map((t) => ({ ...t, start: t.start + 1 })) };
      await rejects({ sql: b.sql, expect: shifted }, /outside every phigate projection/);
    });

    it('a different table at the expected position', async () => {
      const b = build('SELECT * FROM (SELECT * FROM ', { table: patients, text: 'clinical.main.encounters' }, ') p');
      await rejects(b, /different table/);
      await rejects(build('SELECT * FROM (SELECT * FROM ', { table: patients, text: 'other.main.patients' }, ') p'), /different table/);
    });

    it('an expected projection DuckDB does not see', async () => {
      const b = build('SELECT * FROM ', ...P(), ' p');
      b.expect.projectionTables.push({ start: 0, end: 6, table: encounters });
      await rejects(b, /does not read table encounters at offset 0/);
    });

    it('unparseable text, without quoting it', async () => {
      const b = build("SELEC '078-05-1120' FROM ", ...P(), ' p');
      await assert.rejects(wh.crossCheck(b.sql, b.expect), (e: Error) =>
        e instanceof EngineDisagreement && /cannot parse/.test(e.message) && !e.message.includes('078-05-1120') && !e.message.includes('SELEC'));
    });

    it('more than one statement, or a statement that is not a SELECT', async () => {
      await rejects(build('SELECT * FROM ', ...P(), ' p; SELECT 1'), /2 statements/);
      await rejects(build('INSERT INTO patients SELECT * FROM ', ...P(), ' p'), /cannot parse/);
      await rejects(build('DESCRIBE SELECT * FROM ', ...P(), ' p'), /FROM element phigate does not allow \(SHOW_REF\)/);
      await rejects(build('SHOW TABLES'), /SHOW_REF/);
    });

    it('a name the analyser took for a CTE that DuckDB reads as a table', async () => {
      // A CTE is not visible in the bodies of the CTEs before it: here `patients` is the base table.
      await rejects(build('WITH a AS (SELECT * FROM ', { cte: 'patients' }, '), patients AS (SELECT * FROM ', ...P(),
        ' p) SELECT * FROM ', { cte: 'a' }), /CTE to the analyser but not to DuckDB/);
      // Nor in its own body, unless it is recursive.
      await rejects(build('WITH patients AS (SELECT * FROM ', { cte: 'patients' }, ') SELECT * FROM ', { cte: 'patients' }),
        /CTE to the analyser but not to DuckDB/);
      // A qualified name never names a CTE.
      await rejects(build('WITH x AS (SELECT * FROM ', ...P(), ' p) SELECT * FROM ', { cte: 'main.x' }), /CTE to the analyser/);
    });

    it('a projection table that DuckDB resolves to a CTE of the same name', async () => {
      await rejects(build('WITH patients AS (SELECT 1 AS patient_id) SELECT * FROM (SELECT * FROM ',
        { table: patients, text: 'patients' }, ') p'), /outside every phigate projection/);
    });

    it('PIVOT and time travel', async () => {
      await rejects(build('SELECT * FROM (FROM ', ...P(), ' p PIVOT (count(*) FOR ssn IN (\'a\')))'), /PIVOT/);
      await rejects(build('SELECT * FROM (SELECT * FROM ', { table: patients }, ' AT (VERSION => 1)) p'), /time-travel/);
    });
  });
});
