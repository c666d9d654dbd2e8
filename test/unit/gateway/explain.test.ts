// The dry run and policy views behind the MCP tools, and the MCP result formatting: pure, no warehouse runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedTable, allowedTables, dryRun, policySummary } from '../../../src/gateway/explain.ts';
import { agentName, displayValue, refusal } from '../../../src/gateway/mcp-tools.ts';
import { mcpEndpoint } from '../../../src/gateway/mcp-bridge.ts';
import { GatewayError, forbidden } from '../../../src/gateway/errors.ts';
import type { ServedPolicy } from '../../../src/gateway/pipeline.ts';
import { compiledTestPolicy } from '../../fixtures/policy.ts';
import { textOnlyWarehouse } from '../../fixtures/fake-warehouse.ts';

const served: ServedPolicy = { compiled: compiledTestPolicy(), warehouse: { ...textOnlyWarehouse, execute: async () => { throw new Error('a dry run must not execute'); } } };

describe('explain: what the policy allows', () => {
  it('lists allowed tables with only their allowed columns, masks with strategy, effect and why', () => {
    const tables = allowedTables(served);
    assert.deepEqual(tables.map((t) => t.table), ['ENCOUNTERS', 'PATIENTS']);
    assert.deepEqual(tables[0]!.columns.map((c) => c.name.toUpperCase()), ['ENCOUNTER_ID', 'PATIENT_ID', 'ADMIT_DATE', 'DIAGNOSIS_CODE']);
    const ssn = tables[1]!.columns.find((c) => c.name.toUpperCase() === 'SSN')!;
    assert.equal(ssn.masking!.strategy, 'redact');
    assert.match(ssn.masking!.why, /policy claims/);
    assert.equal(ssn.masking!.unmaskWithApproval, true);
    const mrn = tables[1]!.columns.find((c) => c.name.toUpperCase() === 'MRN')!;
    assert.match(mrn.masking!.effect, /joins, GROUP BY and COUNT\(DISTINCT\) work/);
    assert.equal(mrn.masking!.unmaskWithApproval, false);
  });
  it('resolves one table like SQL does and refuses one outside the policy', async () => {
    assert.equal((await allowedTable(served, 'Patients')).table, 'PATIENTS');
    assert.equal((await allowedTable(served, 'clinical.main.encounters')).table, 'ENCOUNTERS');
    await assert.rejects(allowedTable(served, 'providers'), (e: GatewayError) => e.rule === 'table_not_allowed' && /allowed tables: ENCOUNTERS, PATIENTS/.test(e.message));
    await assert.rejects(allowedTable(served, 'nope'), (e: GatewayError) => e.rule === 'table_not_allowed');
  });
  it('summarises statements, guardrails, maxRows and approval conditions', () => {
    const s = policySummary(served);
    assert.equal(s.maxRows, 100);
    assert.deepEqual(s.statements, ['SELECT']);
    assert.ok(s.guardrails.some((g) => g.deny === 'ddl' && /DROP/.test(g.meaning)));
    assert.deepEqual(s.approval.requiredWhen, [{ unmasked: ['PATIENTS.SSN'] }]);
    assert.deepEqual(s.approval.approvers, ['Group:privacy-office']);
  });
});

describe('explain: dry run of a statement', () => {
  it('reports masked output columns by lineage', async () => {
    const d = await dryRun(served, 'SELECT ssn AS s, dob, state, notes FROM patients');
    assert.equal(d.outcome, 'masked');
    assert.deepEqual(d.outputMasking, { s: 'PATIENTS.SSN: redact', dob: 'PATIENTS.DOB: year' });
    assert.deepEqual(d.outputScrubbed.sort(), ['notes', 'state']);
  });
  it('reports the denial the pipeline would give, with rule and status', async () => {
    const ddl = await dryRun(served, 'DROP TABLE patients');
    assert.deepEqual([ddl.outcome, ddl.rule, ddl.status], ['denied', 'ddl', 403]);
    const col = await dryRun(served, 'SELECT discharge_date FROM encounters');
    assert.deepEqual([col.outcome, col.rule], ['denied', 'column_not_allowed']);
    const tbl = await dryRun(served, 'SELECT * FROM nowhere');
    assert.deepEqual([tbl.outcome, tbl.rule, tbl.status], ['denied', 'table_not_allowed', 403]);
    const fn = await dryRun(served, "SELECT * FROM read_csv('/etc/passwd')");
    assert.equal(fn.outcome, 'denied');
    assert.equal(fn.status, 422);
  });
  it('reports an unmask that needs approval as pending, without masking that column', async () => {
    const d = await dryRun(served, 'SELECT ssn FROM patients', ['patients.ssn']);
    assert.equal(d.outcome, 'pending_approval');
    assert.deepEqual(d.approvalReasons, ['unmasked PATIENTS.SSN']);
    assert.deepEqual(d.masked, []);
  });
});

describe('MCP formatting', () => {
  it('shows dates and timestamps as ISO text and leaves everything else as the SQL API sends it', () => {
    assert.equal(displayValue('date', '6574'), '1988-01-01');
    assert.equal(displayValue('date', '-1'), '1969-12-31');
    assert.equal(displayValue('timestamp_ntz', '1700000000.123000000'), '2023-11-14 22:13:20.123');
    assert.equal(displayValue('timestamp_tz', '1700000000.000000000 1440'), '2023-11-14T22:13:20.000Z');
    assert.equal(displayValue('time', '3723.500000000'), '01:02:03.500');
    assert.equal(displayValue('fixed', '42'), '42');
    assert.equal(displayValue('text', '[REDACTED]'), '[REDACTED]');
    assert.equal(displayValue('date', null), null);
    assert.equal(displayValue('date', 'garbage'), 'garbage');
  });
  it('turns a GatewayError into a tool error naming the rule and what to change', () => {
    const r = refusal(forbidden('ddl', 'DDL is not allowed (guardrail ddl)'));
    assert.equal(r.isError, true);
    const t = (r.content[0] as { text: string }).text;
    assert.match(t, /^Refused by phigate \(rule ddl, code 003001\): DDL is not allowed/);
    assert.match(t, /What to change: send a read-only SELECT/);
  });
  it('names the agent by its MCP client info, without control characters', () => {
    assert.equal(agentName({ name: 'claude-code', version: '2.1.0' }), 'claude-code/2.1.0');
    assert.equal(agentName({ name: 'x\ny', version: '1' }), 'x y/1');
    assert.equal(agentName(undefined), null);
  });
  it('finds a gateway\'s /mcp endpoint from its URL', () => {
    assert.equal(mcpEndpoint('http://127.0.0.1:8080').href, 'http://127.0.0.1:8080/mcp');
    assert.equal(mcpEndpoint('http://gw:8443/').href, 'http://gw:8443/mcp');
    assert.equal(mcpEndpoint('https://gw/base/mcp').href, 'https://gw/base/mcp');
    assert.equal(mcpEndpoint('https://gw/base').href, 'https://gw/base/mcp');
  });
});
