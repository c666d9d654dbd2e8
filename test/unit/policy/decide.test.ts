import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../../../src/sql/analyse.ts';
import { decide, type Denial, type Permit } from '../../../src/policy/decide.ts';
import { compilePolicy, parseDuration, PolicyError } from '../../../src/policy/compile.ts';
import { demoCatalog } from '../../fixtures/catalog.ts';
import { compiledTestPolicy, testPolicy } from '../../fixtures/policy.ts';

const policy = compiledTestPolicy();
const run = (sql: string, unmask?: string[]) => decide(analyse(sql, demoCatalog()), policy, { unmask });
const denied = (sql: string, rule: string, status = 403, unmask?: string[]) => {
  const d = run(sql, unmask) as Denial;
  assert.equal(d.outcome, 'denied', sql);
  assert.equal(d.rule, rule, `${sql}: ${d.reason}`);
  assert.equal(d.status, status);
  return d;
};

describe('decide', () => {
  it('allows a statement over allowed, unmasked columns', () => {
    const p = run('SELECT patient_id, state FROM patients') as Permit;
    assert.equal(p.outcome, 'allowed');
    assert.equal(p.maxRows, 100);
  });
  it('masks a statement that touches a masked column, even only in a predicate', () => {
    const p = run("SELECT COUNT(*) FROM patients WHERE ssn LIKE '1%'") as Permit;
    assert.equal(p.outcome, 'masked');
    assert.deepEqual(p.rules, ['mask:PATIENTS.SSN']);
  });
  it('applies *.COLUMN rules to every table that has the column', () => {
    assert.deepEqual((run('SELECT email FROM patients') as Permit).rules, ['mask:PATIENTS.EMAIL']);
  });
  it('denies tables and columns outside access, by name', () => {
    assert.match(denied('SELECT * FROM providers', 'table_not_allowed').reason, /PROVIDERS/);
    assert.match(denied('SELECT notes FROM encounters', 'column_not_allowed').reason, /ENCOUNTERS\.NOTES/);
    // * of a table with restricted columns names what it would have read.
    assert.match(denied('SELECT * FROM encounters', 'column_not_allowed').reason, /allowed columns of ENCOUNTERS/);
  });
  it('guardrails name the class', () => {
    denied('DROP TABLE patients', 'ddl');
    denied('DELETE FROM patients', 'dml_without_where');
    denied('SELECT 1; SELECT 2', 'multi_statement');
    denied('USE DATABASE x', 'session_change');
    denied("INSTALL httpfs", 'external_access');
    denied("COPY INTO @s FROM patients", 'copy_into');
  });
  it('statement kinds outside access.statements are denied', () => {
    const p = compilePolicy(testPolicy({ guardrails: { deny: [] } }), demoCatalog(), { hashKey: 'k' });
    const d = decide(analyse('DROP TABLE patients', demoCatalog()), p) as Denial;
    assert.equal(d.rule, 'statement_not_allowed');
  });
  it('SQL that does not parse is 422 unparsed', () => {
    denied('SELECT FROM WHERE', 'unparsed', 422);
    denied("SELECT 'unterminated", 'unparsed', 422);
  });
  it('unmasking needs approval, and only where the policy allows it', () => {
    const p = run('SELECT ssn FROM patients', ['PATIENTS.SSN']) as Permit;
    assert.equal(p.outcome, 'pending_approval');
    assert.deepEqual(p.approvalReasons, ['unmasked PATIENTS.SSN']);
    denied('SELECT dob FROM patients', 'unmask_not_allowed', 403, ['PATIENTS.DOB']);
    denied('SELECT state FROM patients', 'unmask_not_applicable', 403, ['PATIENTS.SSN']);
  });
  it('is deterministic', () => {
    assert.deepEqual(run('SELECT ssn FROM patients'), run('SELECT ssn FROM patients'));
  });
});

describe('compilePolicy', () => {
  it('refuses the hash strategy without a key', () => {
    assert.throws(() => compilePolicy(testPolicy(), demoCatalog(), {}), PolicyError);
  });
  it('warns about tables the warehouse does not have', () => {
    const p = compilePolicy(testPolicy({ access: { statements: ['SELECT'], tables: [{ name: 'NOPE', columns: ['*'] }] } }), demoCatalog(), { hashKey: 'k' });
    assert.match(p.warnings.join(), /NOPE/);
    assert.equal(p.tables.size, 0);
  });
  it('parses durations', () => {
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.throws(() => parseDuration('15 minutes'), PolicyError);
  });
});
