// The EXPLAIN cross-check on plans in the shape Snowflake documents for EXPLAIN USING JSON
// (no emulator here answers EXPLAIN: fakesnow cannot, and a phigate refuses it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkExplainPlan, parseExplain, splitObjectName } from '../../../src/warehouse/snowflake-crosscheck.ts';
import { EngineDisagreement, type CatalogTable, type RewriteExpectation } from '../../../src/warehouse/types.ts';

const table = (name: string, schema = 'PUBLIC', database = 'CLINICAL'): CatalogTable => ({ database, schema, name, columns: [] });
const expect = (...tables: CatalogTable[]): RewriteExpectation => ({
  projectionTables: tables.map((t, i) => ({ start: i * 100, end: i * 100 + t.name.length, table: t })),
  cteReferences: [],
});

/** A plan as Snowflake's documentation shows it: GlobalStats and one list of operators per step. */
function plan(...ops: Record<string, unknown>[]) {
  return JSON.stringify({
    GlobalStats: { partitionsTotal: 3, partitionsAssigned: 3, bytesAssigned: 1024 },
    Operations: [[
      { id: 0, operation: 'Result', expressions: ['P.PATIENT_ID', 'E.ENCOUNTER_ID'] },
      ...ops.map((o, i) => ({ id: i + 1, parentOperators: [i], ...o })),
    ]],
  });
}
const scan = (object: string) => ({ operation: 'TableScan', objects: [object], expressions: ['PATIENT_ID'], partitionsAssigned: 1, partitionsTotal: 1, bytesAssigned: 1024 });

describe('EXPLAIN USING JSON cross-check', () => {
  it('passes when every scanned table is a projection table', () => {
    const p = parseExplain(plan({ operation: 'InnerJoin', expressions: ['joinKey: (E.PATIENT_ID = P.PATIENT_ID)'] }, scan('CLINICAL.PUBLIC.PATIENTS'), scan('CLINICAL.PUBLIC.ENCOUNTERS')));
    assert.deepEqual(checkExplainPlan(p, expect(table('PATIENTS'), table('ENCOUNTERS'))), ['CLINICAL.PUBLIC.PATIENTS', 'CLINICAL.PUBLIC.ENCOUNTERS']);
  });

  it('denies a scan of a table outside every projection (the engine read something the analyser did not)', () => {
    const p = parseExplain(plan(scan('CLINICAL.PUBLIC.PATIENTS'), scan('CLINICAL.PUBLIC.PAYROLL')));
    assert.throws(() => checkExplainPlan(p, expect(table('PATIENTS'))), (e: unknown) => e instanceof EngineDisagreement && /PAYROLL/.test((e as Error).message));
  });

  it('denies the same name in another schema or database', () => {
    assert.throws(() => checkExplainPlan(parseExplain(plan(scan('CLINICAL.STAGING.PATIENTS'))), expect(table('PATIENTS'))), EngineDisagreement);
    assert.throws(() => checkExplainPlan(parseExplain(plan(scan('OTHER.PUBLIC.PATIENTS'))), expect(table('PATIENTS'))), EngineDisagreement);
  });

  it('accepts a pruned scan (the optimizer may drop a table the text names)', () => {
    const p = parseExplain(plan({ operation: 'Generator', expressions: [] }));
    // Generator is how Snowflake shows an empty or constant input; it reads no stored table.
    assert.deepEqual(checkExplainPlan(p, expect(table('PATIENTS'))), []);
  });

  it('denies external scans, UDTFs and unreadable shapes', () => {
    assert.throws(() => checkExplainPlan(parseExplain(plan({ operation: 'ExternalScan', objects: ['@MY_STAGE/data.csv'] })), expect(table('PATIENTS'))), /ExternalScan/);
    assert.throws(() => checkExplainPlan(parseExplain(plan({ operation: 'JavaUdtf' })), expect(table('PATIENTS'))), EngineDisagreement);
    assert.throws(() => checkExplainPlan(parseExplain(plan({ operation: 'TableScan', objects: 'CLINICAL.PUBLIC.PATIENTS' })), expect(table('PATIENTS'))), EngineDisagreement);
    assert.throws(() => checkExplainPlan(parseExplain(plan(scan('PATIENTS'))), expect(table('PATIENTS'))), /not a fully qualified/);
    assert.throws(() => checkExplainPlan(parseExplain('{"GlobalStats": {}}'), expect()), /no Operations/);
    assert.throws(() => parseExplain('not json'), EngineDisagreement);
  });

  it('reads quoted, case-sensitive names', () => {
    assert.deepEqual(splitObjectName('CLINICAL."Mixed.Case"."tbl ""x"""'), ['CLINICAL', 'Mixed.Case', 'tbl "x"']);
    assert.deepEqual(splitObjectName('clinical.public.patients'), ['CLINICAL', 'PUBLIC', 'PATIENTS']);
    const mixed = table('Patients', 'Mixed.Case');
    assert.doesNotThrow(() => checkExplainPlan(parseExplain(plan(scan('CLINICAL."Mixed.Case"."Patients"'))), expect(mixed)));
    assert.throws(() => checkExplainPlan(parseExplain(plan(scan('CLINICAL."Mixed.Case"."Other"'))), expect(mixed)), EngineDisagreement);
  });
});
