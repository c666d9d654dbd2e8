// Builders for audit inputs and logs shared by the audit tests.

import { AuditWriter } from '../../../src/audit/writer.ts';
import type { AuditInput, AuditRecordV1, ResultRecord, StatementRecord, ApprovalRecord } from '../../../src/audit/record.ts';

type Input<T> = Omit<T, 'ts' | 'kind' | 'id' | 'stream' | 'seq' | 'prevHash' | 'hash'> & { id?: string };

export function statement(overrides: Partial<Input<StatementRecord>> = {}): AuditInput {
  return {
    event: 'statement',
    session: 's-1',
    frontEnd: 'sqlapi',
    actor: { user: 'system:serviceaccount:team-a:coding-agent', groups: ['agents'], agent: 'claude-code/1.0' },
    policy: { namespace: 'team-a', name: 'claims-analytics', generation: 3 },
    statement: {
      sql: 'SELECT patient_id, ssn FROM patients LIMIT 5',
      fingerprint: 'f'.repeat(16),
      kind: 'SELECT',
      tables: ['CLINICAL.PUBLIC.PATIENTS'],
      columns: ['PATIENTS.PATIENT_ID', 'PATIENTS.SSN'],
    },
    decision: { outcome: 'masked', rules: ['mask:PATIENTS.SSN'], reason: 'SSN is masked by policy' },
    masking: { columns: ['SSN'], strategies: { SSN: 'redact' } },
    approval: null,
    decisionMs: 0.4,
    http: { status: 200 },
    ...overrides,
  };
}

export function result(statementId: string, overrides: Partial<Input<ResultRecord>> = {}): AuditInput {
  return {
    event: 'result',
    session: 's-1',
    statementId,
    result: { rows: 2, complete: true, digest: `sha256:${'a'.repeat(64)}`, maskedCells: 2, detectorHits: {} },
    durationMs: 12.5,
    ...overrides,
  };
}

export function approval(statementId: string, overrides: Partial<Input<ApprovalRecord>> = {}): AuditInput {
  return {
    event: 'approval',
    session: 's-1',
    statementId,
    action: 'requested',
    policy: { namespace: 'team-a', name: 'claims-analytics', generation: 3 },
    approval: { name: 'claims-analytics-7f3a9c', reviewer: null, decision: null, reason: 'unmasked PATIENTS.SSN' },
    ...overrides,
  };
}

/** A writer whose lines land in `lines`, with a fixed clock that ticks a millisecond per record. */
export function capturingWriter(stream = 'gw-1', start = Date.UTC(2026, 10, 24, 10, 0, 0)) {
  const lines: string[] = [];
  let t = start;
  let n = 0;
  const writer = new AuditWriter({
    stream,
    sink: (line) => { lines.push(line); },
    clock: () => new Date(t++),
    newId: () => `${stream}-id-${n++}`,
  });
  return { writer, lines };
}

/** `count` records (statement, result, statement, ...) of one stream, as log lines. */
export function makeLog(count: number, stream = 'gw-1'): { lines: string[]; records: AuditRecordV1[] } {
  const { writer, lines } = capturingWriter(stream);
  const records: AuditRecordV1[] = [];
  for (let i = 0; i < count; i++) {
    const prev = records[records.length - 1];
    records.push(writer.write(i % 2 === 1 && prev ? result(prev.id) : statement()));
  }
  return { lines, records };
}
