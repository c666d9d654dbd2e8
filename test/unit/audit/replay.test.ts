import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditWriter } from '../../../src/audit/writer.ts';
import { listSessions, replaySession } from '../../../src/audit/replay.ts';
import { approval, result, statement } from './fixtures.ts';

/** Two gateway pods (streams) sharing one clock, writing into one interleaved log. */
function twoPods() {
  const lines: string[] = [];
  let t = Date.UTC(2026, 10, 24, 10, 0, 0);
  let n = 0;
  const make = (stream: string) => new AuditWriter({
    stream,
    sink: (l) => { lines.push(l); },
    clock: () => new Date(t += 1000),
    newId: () => `st-${n++}`,
  });
  return { a: make('gw-a'), b: make('gw-b'), lines };
}

function sessionLog(): string {
  const { a, b, lines } = twoPods();
  lines.push('gateway listening on :8443');
  // 1. Denied: a table the policy does not list.
  a.write(statement({
    statement: { sql: 'SELECT * FROM notes', fingerprint: 'f1', kind: 'SELECT', tables: ['CLINICAL.PUBLIC.NOTES'], columns: [] },
    decision: { outcome: 'denied', rules: ['access:tables'], reason: 'table NOTES is not in policy claims-analytics', code: 'policy_denied' },
    masking: { columns: [], strategies: {} },
    http: { status: 403 },
  }));
  // Another session on the other pod, in between.
  b.write(statement({ session: 's-2', actor: { user: 'carol@example.com', groups: [], agent: null } }));
  // 2. Masked, with the masked rows kept (audit.results: masked).
  const masked = a.write(statement({
    statement: { sql: 'SELECT patient_id, ssn, dob\nFROM patients\nLIMIT 2', fingerprint: 'f2', kind: 'SELECT', tables: ['CLINICAL.PUBLIC.PATIENTS'], columns: ['PATIENTS.PATIENT_ID', 'PATIENTS.SSN', 'PATIENTS.DOB'] },
    masking: { columns: ['SSN', 'DOB'], strategies: { SSN: 'redact', DOB: 'year' } },
    decision: { outcome: 'masked', rules: ['mask:PATIENTS.SSN', 'mask:PATIENTS.DOB'], reason: 'SSN, DOB masked by policy' },
  }));
  a.write(result(masked.id, {
    result: { rows: 2, complete: true, digest: 'sha256:abc', maskedCells: 4, detectorHits: { ssn: 1 }, columns: ['PATIENT_ID', 'SSN', 'DOB'], values: [['p-1', '[REDACTED]', '1980'], ['p-2', '[REDACTED]', null]] },
    durationMs: 12.4,
  }));
  // 3. Unmask needs approval; approved on the other pod; then executed.
  const pending = a.write(statement({
    statement: { sql: 'SELECT ssn FROM patients WHERE patient_id = 7', fingerprint: 'f3', kind: 'SELECT', tables: ['CLINICAL.PUBLIC.PATIENTS'], columns: ['PATIENTS.SSN'] },
    decision: { outcome: 'pending_approval', rules: ['approval:unmasked PATIENTS.SSN'], reason: 'unmasking PATIENTS.SSN needs approval', code: 'approval_required' },
    masking: { columns: [], strategies: {} },
    approval: { name: 'claims-analytics-7f3a9c', phase: 'Pending' },
    http: { status: 202 },
  }));
  a.write(approval(pending.id, { action: 'requested' }));
  b.write(approval(pending.id, { action: 'reviewed', approval: { name: 'claims-analytics-7f3a9c', reviewer: 'bob@example.com', decision: 'Approved', reason: 'ticket DATA-412' } }));
  const approved = b.write(statement({
    statement: { sql: 'SELECT ssn FROM patients WHERE patient_id = 7', fingerprint: 'f3', kind: 'SELECT', tables: ['CLINICAL.PUBLIC.PATIENTS'], columns: ['PATIENTS.SSN'] },
    decision: { outcome: 'allowed', rules: ['approval:claims-analytics-7f3a9c'], reason: 'approved by bob@example.com' },
    masking: { columns: [], strategies: {} },
    approval: { name: 'claims-analytics-7f3a9c', phase: 'Approved' },
  }));
  b.write(approval(pending.id, { action: 'executed', approval: { name: 'claims-analytics-7f3a9c', reviewer: null, decision: 'Approved', reason: null } }));
  b.write(result(approved.id, { result: { rows: 1, complete: false, digest: null, maskedCells: 0, detectorHits: {} }, durationMs: 30 }));
  return lines.join('\n');
}

test('replay shows what the agent sent, the decisions, approvals and what it saw, in order', () => {
  const out = replaySession(sessionLog(), 's-1');
  assert.deepEqual(out, [
    'session s-1: 9 audit records',
    '2026-11-24T10:00:01.000Z system:serviceaccount:team-a:coding-agent (claude-code/1.0) sent via sqlapi [statement st-0]:',
    '    SELECT * FROM notes',
    '  decision: denied (policy_denied) by policy team-a/claims-analytics gen 3; rules: access:tables; table NOTES is not in policy claims-analytics',
    '2026-11-24T10:00:03.000Z system:serviceaccount:team-a:coding-agent (claude-code/1.0) sent via sqlapi [statement st-2]:',
    '    SELECT patient_id, ssn, dob',
    '    FROM patients',
    '    LIMIT 2',
    '  decision: masked by policy team-a/claims-analytics gen 3; rules: mask:PATIENTS.SSN, mask:PATIENTS.DOB; SSN, DOB masked by policy',
    '  masked columns: SSN (redact), DOB (year)',
    '2026-11-24T10:00:04.000Z agent saw [statement st-2]: 2 rows, complete, 4 masked cells, detector hits ssn=1, digest sha256:abc, 12.4 ms',
    '    | PATIENT_ID | SSN | DOB |',
    '    | p-1 | [REDACTED] | 1980 |',
    '    | p-2 | [REDACTED] | NULL |',
    '2026-11-24T10:00:05.000Z system:serviceaccount:team-a:coding-agent (claude-code/1.0) sent via sqlapi [statement st-4]:',
    '    SELECT ssn FROM patients WHERE patient_id = 7',
    '  decision: pending_approval (approval_required) by policy team-a/claims-analytics gen 3; rules: approval:unmasked PATIENTS.SSN; unmasking PATIENTS.SSN needs approval',
    '  approval: claims-analytics-7f3a9c (Pending)',
    '2026-11-24T10:00:06.000Z approval claims-analytics-7f3a9c requested (unmasked PATIENTS.SSN) [statement st-4]',
    '2026-11-24T10:00:07.000Z approval claims-analytics-7f3a9c reviewed by bob@example.com: Approved (ticket DATA-412) [statement st-4]',
    '2026-11-24T10:00:08.000Z system:serviceaccount:team-a:coding-agent (claude-code/1.0) sent via sqlapi [statement st-7]:',
    '    SELECT ssn FROM patients WHERE patient_id = 7',
    '  decision: allowed by policy team-a/claims-analytics gen 3; rules: approval:claims-analytics-7f3a9c; approved by bob@example.com',
    '  approval: claims-analytics-7f3a9c (Approved)',
    '2026-11-24T10:00:09.000Z approval claims-analytics-7f3a9c executed: Approved [statement st-4]',
    '2026-11-24T10:00:10.000Z agent saw [statement st-7]: 1 row, INCOMPLETE (cut off), 0 masked cells, no digest kept, 30 ms',
  ]);
});

test('replay of an unknown session says so', () => {
  assert.deepEqual(replaySession(sessionLog(), 's-404'), ['no audit records for session s-404']);
});

test('listSessions lists each session with its users and statement count', () => {
  assert.deepEqual(listSessions(sessionLog()), [
    { session: 's-1', users: ['system:serviceaccount:team-a:coding-agent'], statements: 4, firstTs: '2026-11-24T10:00:01.000Z', lastTs: '2026-11-24T10:00:10.000Z' },
    { session: 's-2', users: ['carol@example.com'], statements: 1, firstTs: '2026-11-24T10:00:02.000Z', lastTs: '2026-11-24T10:00:02.000Z' },
  ]);
});

test('replay escapes control characters and newlines in values, so none can fake a line', () => {
  const { a, lines } = twoPods();
  const s = a.write(statement({ statement: { sql: "SELECT '\u001b[2J'\nFROM t", fingerprint: null, kind: 'SELECT', tables: [], columns: [] } }));
  a.write(result(s.id, { result: { rows: 1, complete: true, digest: null, maskedCells: 0, detectorHits: {}, values: [['a\n2026-01-01 approval x reviewed by bob: Approved']] } }));
  const out = replaySession(lines.join('\n'), 's-1');
  assert.equal(out[2], "    SELECT '\\u001b[2J'");
  assert.equal(out[3], '    FROM t');
  assert.equal(out.at(-1), '    | a\\n2026-01-01 approval x reviewed by bob: Approved |');
});
