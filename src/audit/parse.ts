// Finds the audit records in a log that may hold other output too (kubectl logs mixes in
// whatever else the container printed, and --timestamps / --prefix put text before each line).

import { isHash } from './chain.ts';
import { AUDIT_KIND } from './record.ts';
import type { AuditRecordV1 } from './record.ts';

export type ParsedLine =
  | { line: number; record: AuditRecordV1 }
  | { line: number; malformed: string; stream?: string; seq?: number };

const EVENTS = new Set(['statement', 'result', 'approval']);
const KIND_PREFIX = 'phigate.audit/';
// How an audit line starts to look, even when cut off: the writer puts ts and kind first.
const AUDIT_MARK = /"kind"\s*:\s*"phigate\.audit\/v1"/;

/**
 * Audit records and malformed audit lines, with 1-based line numbers, in log order. A line is
 * an audit line if, from its first `{`, it is a JSON object whose kind starts with
 * 'phigate.audit/' (only v1 is read; others are malformed), or it fails to parse but carries
 * kind 'phigate.audit/v1' (a torn or hand-edited record). Everything else is skipped.
 */
export function parseAuditLog(text: string): ParsedLine[] {
  const out: ParsedLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const start = raw.indexOf('{');
    if (start < 0 || !raw.includes(KIND_PREFIX)) continue;
    const json = raw.slice(start).trimEnd();
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      if (AUDIT_MARK.test(json)) out.push({ line, malformed: `line ${line} looks like an audit record but is not valid JSON (cut off or edited)` });
      continue;
    }
    if (!isObject(value) || typeof value['kind'] !== 'string' || !value['kind'].startsWith(KIND_PREFIX)) continue;
    // Another version (or an edited kind) is not skipped: skipping it would hide a record.
    const problem = value['kind'] === AUDIT_KIND
      ? shapeProblem(value)
      : `kind ${JSON.stringify(value['kind'])} is not ${AUDIT_KIND}, which this version reads`;
    if (problem === undefined) {
      out.push({ line, record: value as unknown as AuditRecordV1 });
    } else {
      const stream = typeof value['stream'] === 'string' ? value['stream'] : undefined;
      const seq = Number.isSafeInteger(value['seq']) ? (value['seq'] as number) : undefined;
      out.push({ line, malformed: `audit record on line ${line} is malformed: ${problem}`, stream, seq });
    }
  }
  return out;
}

/** What is wrong with the record's shape, or undefined. Checks what verify and replay rely on. */
function shapeProblem(r: Record<string, unknown>): string | undefined {
  const seq = r['seq'];
  if (typeof r['stream'] !== 'string' || r['stream'] === '') return 'stream is missing';
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'seq is not a non-negative integer';
  if (!isHash(r['prevHash'])) return 'prevHash is not 64 hex digits';
  if (!isHash(r['hash'])) return 'hash is not 64 hex digits';
  if (typeof r['id'] !== 'string') return 'id is missing';
  if (typeof r['ts'] !== 'string') return 'ts is missing';
  if (r['session'] !== null && typeof r['session'] !== 'string') return 'session is not a string or null';
  const event = r['event'];
  if (typeof event !== 'string' || !EVENTS.has(event)) return `unknown event ${JSON.stringify(event)}`;
  const needs: Record<string, string[]> = {
    statement: ['statement', 'decision', 'masking', 'actor'],
    result: ['result'],
    approval: ['approval'],
  };
  for (const field of needs[event]!) {
    if (!isObject(r[field])) return `${event} record has no ${field} object`;
  }
  if (event !== 'statement' && typeof r['statementId'] !== 'string') return `${event} record has no statementId`;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
