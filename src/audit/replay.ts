// `phigate audit replay --session S`: what the agent sent and what it saw, in order.
// It reads records as they are; run verify first to know they are intact.

import { parseAuditLog } from './parse.ts';
import type { ApprovalRecord, AuditRecordV1, ResultRecord, StatementRecord } from './record.ts';

export interface SessionSummary {
  session: string;
  /** Users seen in the session's statement records. */
  users: string[];
  statements: number;
  firstTs: string;
  lastTs: string;
}

/** The session's records as readable lines, ordered by time (a session may span gateway pods). */
export function replaySession(text: string, session: string): string[] {
  const records = sessionRecords(text).filter((r) => r.session === session);
  if (records.length === 0) return [`no audit records for session ${session}`];
  const out = [`session ${session}: ${records.length} audit record${records.length === 1 ? '' : 's'}`];
  for (const r of records) {
    switch (r.event) {
      case 'statement': out.push(...statementLines(r)); break;
      case 'result': out.push(...resultLines(r)); break;
      case 'approval': out.push(...approvalLines(r)); break;
    }
  }
  return out;
}

/** Every session in the log, earliest first. */
export function listSessions(text: string): SessionSummary[] {
  const sessions = new Map<string, SessionSummary>();
  for (const r of sessionRecords(text)) {
    if (r.session === null) continue;
    let s = sessions.get(r.session);
    if (!s) sessions.set(r.session, (s = { session: r.session, users: [], statements: 0, firstTs: r.ts, lastTs: r.ts }));
    s.lastTs = r.ts;
    if (r.event !== 'statement') continue;
    s.statements += 1;
    const user = r.actor.user;
    if (user !== null && !s.users.includes(user)) s.users.push(user);
  }
  return [...sessions.values()];
}

/** Intact-looking records sorted by ts; log order (stream, seq) breaks ties. */
function sessionRecords(text: string): AuditRecordV1[] {
  const records = parseAuditLog(text).flatMap((p) => ('record' in p ? [p.record] : []));
  // Array.prototype.sort is stable, and each stream's lines are already in seq order.
  return records.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
}

function statementLines(r: StatementRecord): string[] {
  const who = r.actor.user ?? 'unauthenticated caller';
  const agent = r.actor.agent ? ` (${r.actor.agent})` : '';
  const policy = r.policy ? `policy ${r.policy.namespace}/${r.policy.name} gen ${r.policy.generation}` : 'no policy';
  const lines = [
    `${r.ts} ${who}${agent} sent via ${r.frontEnd} [statement ${r.id}]:`,
    ...r.statement.sql.split(/\r?\n/).map((l) => `    ${l}`),
  ];
  const d = r.decision;
  const code = d.code ? ` (${d.code})` : '';
  const rules = d.rules.length ? `; rules: ${d.rules.join(', ')}` : '';
  lines.push(`  decision: ${d.outcome}${code} by ${policy}${rules}${d.reason ? `; ${d.reason}` : ''}`);
  if (r.masking.columns.length) {
    const masked = r.masking.columns.map((c) => {
      const strategy = r.masking.strategies[c];
      return strategy ? `${c} (${strategy})` : c;
    });
    lines.push(`  masked columns: ${masked.join(', ')}`);
  }
  if (r.approval) lines.push(`  approval: ${r.approval.name} (${r.approval.phase})`);
  return lines.map(printable);
}

function resultLines(r: ResultRecord): string[] {
  const x = r.result;
  const hits = Object.entries(x.detectorHits ?? {}).map(([k, n]) => `${k}=${n}`);
  const facts = [
    `${x.rows} row${x.rows === 1 ? '' : 's'}`,
    x.complete ? 'complete' : 'INCOMPLETE (cut off)',
    `${x.maskedCells} masked cell${x.maskedCells === 1 ? '' : 's'}`,
    ...(hits.length ? [`detector hits ${hits.join(', ')}`] : []),
    x.digest ? `digest ${x.digest}` : 'no digest kept',
    `${r.durationMs} ms`,
  ];
  const lines = [`${r.ts} agent saw [statement ${r.statementId}]: ${facts.join(', ')}`];
  if (x.values) {
    if (x.columns) lines.push(`    | ${x.columns.join(' | ')} |`);
    for (const row of x.values) lines.push(`    | ${row.map((v) => (v === null ? 'NULL' : v)).join(' | ')} |`);
  }
  return lines.map(printable);
}

function approvalLines(r: ApprovalRecord): string[] {
  const a = r.approval;
  const by = a.reviewer ? ` by ${a.reviewer}` : '';
  const decision = a.decision ? `: ${a.decision}` : '';
  const reason = a.reason ? ` (${a.reason})` : '';
  return [printable(`${r.ts} approval ${a.name} ${r.action}${by}${decision}${reason} [statement ${r.statementId}]`)];
}

// What the agent sent is shown as text, never as terminal control: escape control characters,
// newlines and bidi overrides inside a value, so no value can draw, hide or fake a replay line.
function printable(line: string): string {
  return line.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
