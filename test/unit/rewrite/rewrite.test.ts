import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../../../src/sql/analyse.ts';
import { decide, type Permit } from '../../../src/policy/decide.ts';
import { rewrite, recheck, RewriteRejected } from '../../../src/rewrite/rewrite.ts';
import { demoCatalog } from '../../fixtures/catalog.ts';
import { compiledTestPolicy } from '../../fixtures/policy.ts';
import { textOnlyWarehouse } from '../../fixtures/fake-warehouse.ts';

const policy = compiledTestPolicy();
const rw = (sql: string, unmask: string[] = []) => {
  const facts = analyse(sql, demoCatalog());
  const permit = decide(facts, policy, { unmask }) as Permit;
  assert.notEqual(permit.outcome, 'denied');
  return rewrite(sql, facts, policy, permit, textOnlyWarehouse);
};

describe('rewrite', () => {
  it('replaces the table reference with a masked projection of the columns used, keeping the alias', () => {
    const r = rw("SELECT p.ssn AS x, mrn FROM patients p WHERE p.ssn LIKE '1%'");
    assert.equal(r.sql, `SELECT p.ssn AS x, mrn FROM (SELECT MASK_HASH("mrn") AS "mrn", MASK_REDACT("ssn") AS "ssn" FROM "clinical"."main"."patients") AS p WHERE p.ssn LIKE '1%'`);
  });
  it('projects every allowed column for *, and one for a statement that uses none', () => {
    assert.match(rw('SELECT * FROM patients').sql, /\(SELECT "patient_id", MASK_HASH\("mrn"\) AS "mrn", MASK_REDACT\("ssn"\) AS "ssn", .*"created_at" FROM/);
    assert.match(rw('SELECT COUNT(*) FROM patients').sql, /^SELECT COUNT\(\*\) FROM \(SELECT "patient_id" FROM "clinical"\."main"\."patients"\) AS patients$/);
  });
  it('uses the table name as alias when there is none, so qualified columns still bind', () => {
    const r = rw('SELECT patients.state FROM patients');
    assert.match(r.sql, /\) AS patients$/);
  });
  it('keeps only allowed columns and scrubs unclassified text with detectors', () => {
    const r = rw('SELECT encounter_id, diagnosis_code FROM encounters');
    assert.match(r.sql, /\(SELECT "encounter_id", MASK_SCRUB\("diagnosis_code"\) AS "diagnosis_code" FROM/);
    assert.ok(!r.sql.includes('"notes"'));
    assert.deepEqual(r.scrubbed, ['CLINICAL.MAIN.ENCOUNTERS.DIAGNOSIS_CODE']);
  });
  it('rewrites every reference, in CTEs, subqueries and set operations, and records positions', () => {
    const sql = `WITH c AS (SELECT patient_id FROM encounters) SELECT ssn FROM patients WHERE patient_id IN (SELECT patient_id FROM c) UNION ALL SELECT ssn FROM patients`;
    const r = rw(sql);
    assert.equal(r.expectation.projectionTables.length, 3);
    for (const p of r.expectation.projectionTables) assert.match(r.sql.slice(p.start, p.end), /^"clinical"\."main"\."(patients|encounters)"$/);
    for (const c of r.expectation.cteReferences) assert.equal(r.sql.slice(c.start, c.end), 'c');
  });
  it('an approved unmask leaves only that column in clear', () => {
    const r = rw('SELECT ssn, email FROM patients', ['PATIENTS.SSN']);
    assert.match(r.sql, /\(SELECT "ssn", MASK_REDACT\("email"\) AS "email" FROM/);
  });
  it('recheck refuses a table reference outside a projection', () => {
    const r = rw('SELECT state FROM patients');
    const tampered = { ...r, sql: r.sql.replace(') AS patients', ') AS patients JOIN encounters ON 1=1') };
    assert.throws(() => recheck(tampered), RewriteRejected);
  });
});
