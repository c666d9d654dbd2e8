import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyse, Unanalysable, UnknownTable } from '../../../src/sql/analyse.ts';
import { demoCatalog } from '../../fixtures/catalog.ts';

const cat = demoCatalog();
const P = 'CLINICAL.MAIN.PATIENTS';
const E = 'CLINICAL.MAIN.ENCOUNTERS';
const facts = (sql: string) => analyse(sql, cat);
const unanalysable = (sql: string, what: RegExp) =>
  assert.throws(() => facts(sql), (e: unknown) => e instanceof Unanalysable && what.test(e.what), sql);

describe('analyse: statement kinds', () => {
  const cases: [string, string, string[]][] = [
    ['SELECT 1', 'SELECT', []],
    ['WITH a AS (SELECT 1 AS x) SELECT x FROM a', 'SELECT', []],
    ['DROP TABLE patients', 'DROP', ['ddl']],
    ['UPDATE patients SET ssn = 1', 'UPDATE', ['dml', 'dml_without_where']],
    ['DELETE FROM patients WHERE patient_id = 1', 'DELETE', ['dml']],
    ['GRANT SELECT ON patients TO ROLE r', 'GRANT', ['grant']],
    ["COPY INTO @stage FROM patients", 'COPY', ['copy_into']],
    ['USE DATABASE other', 'USE', ['session_change']],
    ['ALTER SESSION SET TIMEZONE = \'UTC\'', 'SET', ['session_change']],
    ["ATTACH 'x.db' AS x", 'OTHER', ['external_access']],
    ["INSTALL httpfs", 'OTHER', ['external_access']],
    ['SELECT 1; SELECT 2', 'MULTI', ['multi_statement']],
    ['SELECT 1; DROP TABLE patients', 'MULTI', ['multi_statement', 'ddl']],
  ];
  for (const [sql, kind, classes] of cases) {
    it(`${sql} is ${kind}`, () => {
      const f = facts(sql);
      assert.equal(f.kind, kind);
      assert.deepEqual([...f.classes].sort(), [...classes].sort());
    });
  }
  it('a trailing semicolon is still one statement', () => assert.equal(facts('SELECT 1;').kind, 'SELECT'));
  it('an unterminated string is unparsed', () => assert.ok(facts("SELECT 'abc FROM patients").classes.includes('unparsed')));
  it('text the grammar rejects is not parsed', () => assert.equal(facts('SELECT FROM WHERE').parsed, false));
});

describe('analyse: table references', () => {
  it('records position, table and alias', () => {
    const sql = 'SELECT p.ssn FROM patients p';
    const [t] = facts(sql).tables;
    assert.equal(sql.slice(t!.start, t!.end), 'patients p');
    assert.equal(t!.table.name, 'patients');
    assert.equal(t!.aliasText, 'p');
  });
  it('finds tables in CTEs, subqueries, set operations and joins', () => {
    const sql = `WITH c AS (SELECT patient_id FROM encounters)
      SELECT p.patient_id FROM patients p JOIN c ON c.patient_id = p.patient_id
      WHERE p.patient_id IN (SELECT patient_id FROM encounters) AND EXISTS (SELECT 1 FROM providers)
      UNION ALL SELECT patient_id FROM patients`;
    const names = facts(sql).tables.map((t) => sql.slice(t.start, t.end).trim());
    assert.deepEqual(names, ['encounters', 'patients p', 'encounters', 'providers', 'patients']);
    assert.equal(facts(sql).cteReferences.length, 1);
  });
  it('resolves qualified names case-insensitively', () => {
    assert.equal(facts('SELECT ssn FROM CLINICAL.MAIN.PATIENTS').tables[0]!.table.name, 'patients');
    assert.equal(facts('SELECT ssn FROM Main.Patients').tables[0]!.table.name, 'patients');
    assert.equal(facts('SELECT "ssn" FROM "PATIENTS"').tables[0]!.table.name, 'patients');
  });
  it('a table that does not exist is UnknownTable', () => {
    assert.throws(() => facts('SELECT * FROM secrets'), UnknownTable);
    assert.throws(() => facts('SELECT * FROM other.main.patients'), UnknownTable);
  });
  it('table functions and IDENTIFIER() are named and refused', () => {
    unanalysable("SELECT * FROM read_csv('/etc/passwd')", /table function READ_CSV/);
    unanalysable("SELECT * FROM IDENTIFIER('patients')", /IDENTIFIER/);
    unanalysable('SELECT * FROM TABLE(FLATTEN(input => x))', /TABLE/);
  });
});

describe('analyse: binding and lineage', () => {
  it('every column must bind', () => {
    unanalysable('SELECT nope FROM patients', /NOPE does not bind/);
    unanalysable('SELECT x.ssn FROM patients p', /qualifier X/);
    unanalysable('SELECT patient_id FROM patients, encounters', /ambiguous/);
  });
  it('tracks lineage through aliases, CTEs, subqueries and set operations', () => {
    const f = facts(`WITH a AS (SELECT ssn AS s FROM patients) SELECT UPPER(s) AS u FROM (SELECT s FROM a) d`);
    assert.deepEqual(f.output, [{ name: 'u', sources: [`${P}.SSN`], transform: 'transform' }]);
    const u = facts('SELECT ssn FROM patients UNION ALL SELECT diagnosis_code FROM encounters');
    assert.deepEqual(u.output[0]!.sources, [`${E}.DIAGNOSIS_CODE`, `${P}.SSN`]);
  });
  it('reports predicate columns separately', () => {
    const f = facts("SELECT COUNT(*) FROM patients WHERE ssn LIKE '1%' GROUP BY state ORDER BY state");
    assert.deepEqual(f.output[0]!.sources, []);
    assert.deepEqual(f.predicateColumns, [`${P}.SSN`, `${P}.STATE`]);
    assert.deepEqual(f.columns, [`${P}.SSN`, `${P}.STATE`]);
  });
  it('expands * and t.* and * EXCLUDE from the catalog', () => {
    assert.equal(facts('SELECT * FROM patients').output.length, 15);
    assert.equal(facts('SELECT p.* FROM patients p JOIN encounters e ON e.patient_id = p.patient_id').output.length, 15);
    const ex = facts('SELECT * EXCLUDE (ssn, notes) FROM patients');
    assert.equal(ex.output.length, 13);
    assert.ok(!ex.columns.includes(`${P}.SSN`));
  });
  it('USING merges the join column', () => {
    const f = facts('SELECT patient_id FROM patients JOIN encounters USING (patient_id)');
    assert.deepEqual(f.output[0]!.sources, [`${E}.PATIENT_ID`, `${P}.PATIENT_ID`]);
  });
  it('double-quoted names are identifiers, as the engines read them', () => {
    assert.deepEqual(facts('SELECT "ssn" FROM patients').columns, [`${P}.SSN`]);
  });
  it('order by may name a select alias; correlated subqueries see the outer query', () => {
    assert.deepEqual(facts('SELECT ssn AS s FROM patients ORDER BY s').predicateColumns, [`${P}.SSN`]);
    const f = facts('SELECT patient_id FROM patients p WHERE EXISTS (SELECT 1 FROM encounters e WHERE e.patient_id = p.patient_id)');
    assert.ok(f.predicateColumns.includes(`${P}.PATIENT_ID`));
  });
  it('recursive CTEs bind against their anchor', () => {
    const f = facts('WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r');
    assert.equal(f.tables.length, 0);
    assert.equal(f.cteReferences.length, 2);
  });
  it('a date unit keyword is not a column', () => {
    assert.deepEqual(facts('SELECT DATE_PART(YEAR, dob) AS y FROM patients').output[0]!.sources, [`${P}.DOB`]);
    assert.deepEqual(facts("SELECT DATEDIFF(day, admit_date, discharge_date) FROM encounters").columns, [`${E}.ADMIT_DATE`, `${E}.DISCHARGE_DATE`]);
  });
  it('refuses what it does not understand', () => {
    unanalysable('SELECT secret_fn(ssn) FROM patients', /function SECRET_FN/);
    unanalysable('SELECT v:a.b FROM patients', /path/);
    unanalysable('SELECT $1 FROM patients', /var/);
    // The grammar rejects INTERSECT: not parsed, so the decision is 422 unparsed.
    assert.equal(facts('SELECT ssn FROM patients INTERSECT SELECT ssn FROM patients').parsed, false);
  });
});
