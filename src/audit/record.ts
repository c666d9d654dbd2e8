// The audit record, version 1: one JSON object per line on stdout (DESIGN.md, "Audit record").
// Field names are a contract with auditors and their tools: add fields, never rename them.
// A new incompatible shape gets a new `kind` ('phigate.audit/v2') and a new type beside this one,
// as OPA versions its decision-log event.
//
// Records hold no unmasked PHI: columns are listed by name, result values only as the agent
// saw them (masked), and the statement as the agent sent it (never the rewritten text, which
// may hold the hash key).

import type {
  ApprovalDecision,
  ApprovalPhase,
  MaskStrategy,
  StatementKind,
} from '../api/types.ts';

export const AUDIT_KIND = 'phigate.audit/v1';

/** prevHash of the first record (seq 0) of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

export type AuditEvent = 'statement' | 'result' | 'approval';
export type FrontEnd = 'sqlapi' | 'driver' | 'mcp';
export type Outcome =
  | 'allowed' | 'masked' | 'denied' | 'pending_approval' | 'error' | 'unauthenticated';
export type ApprovalAction = 'requested' | 'reviewed' | 'expired' | 'executed' | 'denied';

/** Fields every record carries; the writer fills all but `event` and `session`. */
interface RecordBase<E extends AuditEvent> {
  /** When the record was written, RFC 3339 UTC with milliseconds. */
  ts: string;
  kind: typeof AUDIT_KIND;
  event: E;
  /** Random UUID; result and approval records point at a statement record by it. */
  id: string;
  /** Who wrote the record: one writer (gateway process) per stream, e.g. pod name + suffix. */
  stream: string;
  /** Position in the stream, from 0 with no gaps. */
  seq: number;
  /** `hash` of the record with seq - 1 in the same stream; 64 zeros for seq 0. */
  prevHash: string;
  /** Hex SHA-256 of the canonical JSON of this record without `hash` (chain.ts). */
  hash: string;
  /** The agent's gateway session; null only when the request never got one (unauthenticated). */
  session: string | null;
}

export interface Actor {
  /** Authenticated user name (ServiceAccount, OIDC subject, token file user); null if none. */
  user: string | null;
  groups: string[];
  /** What the agent says it is (User-Agent, MCP client name); informative, not authenticated. */
  agent: string | null;
}

/** The AccessPolicy that decided, at the generation that was compiled. */
export interface PolicyRef {
  namespace: string;
  name: string;
  generation: number;
}

/** The statement as the agent sent it, and what the analyser found in it. */
export interface StatementFacts {
  sql: string;
  /** Hex SHA-256 of the exact statement text (approvals bind to it); null when there was no statement. */
  fingerprint: string | null;
  /** Statement kind; null if it could not be parsed. */
  kind: StatementKind | null;
  /** Tables referenced, fully qualified. */
  tables: string[];
  /** Columns read, TABLE.COLUMN. */
  columns: string[];
}

export interface Decision {
  outcome: Outcome;
  /** The policy rules that produced the outcome, e.g. "mask:PATIENTS.SSN", "guardrail:ddl". */
  rules: string[];
  /** One sentence a person can read. */
  reason: string;
  /** Stable reason code of a stop, e.g. "policy_denied", "unparsed", "approval_expired". */
  code?: string;
}

/** Which output columns were masked and how: names only, never values. */
export interface Masking {
  columns: string[];
  strategies: Record<string, MaskStrategy>;
}

/** The approval a statement waits for (Pending) or runs under (Approved). */
export interface StatementApproval {
  /** ApprovalRequest name. */
  name: string;
  phase: ApprovalPhase;
}

/** One per request, whatever happens to it, written before any row leaves the gateway. */
export interface StatementRecord extends RecordBase<'statement'> {
  /** Which front end received the request. */
  frontEnd: FrontEnd;
  actor: Actor;
  /** Null when no policy was selected (unauthenticated, no matching subject). */
  policy: PolicyRef | null;
  statement: StatementFacts;
  decision: Decision;
  masking: Masking;
  approval: StatementApproval | null;
  /** Time from request to decision, milliseconds. */
  decisionMs: number;
  /** HTTP status the gateway answered with, where the front end is HTTP. */
  http?: { status: number };
}

export interface ResultSummary {
  /** Rows sent to the agent. */
  rows: number;
  /** False when the stream to the agent was cut off (error, disconnect, row limit). */
  complete: boolean;
  /** "sha256:<hex>" over the rows sent; null when the policy keeps nothing (audit.results none). */
  digest: string | null;
  /** Cells masked by policy rules or detectors. */
  maskedCells: number;
  /** Cells masked by policy rules, by rule name (e.g. "mask:PATIENTS.SSN"). */
  maskedCellsByRule?: Record<string, number>;
  /** Value-detector hits in the result scan, by detector name. */
  detectorHits: Record<string, number>;
  /** Output column names, kept with `values`. */
  columns?: string[];
  /** The rows as the agent saw them (masked); kept only when audit.results is 'masked'. */
  values?: (string | null)[][];
}

/** What is known only at the end of a statement; follows its statement record. */
export interface ResultRecord extends RecordBase<'result'> {
  /** `id` of the statement record. */
  statementId: string;
  result: ResultSummary;
  /** Time from request to last row sent, milliseconds. */
  durationMs: number;
}

/** A step in an approval's life: requested, reviewed, expired, executed or denied. */
export interface ApprovalRecord extends RecordBase<'approval'> {
  /** `id` of the statement record that asked for the approval. */
  statementId: string;
  action: ApprovalAction;
  policy: PolicyRef | null;
  approval: {
    /** ApprovalRequest name. */
    name: string;
    /** Who reviewed ('reviewed', 'denied'); null for steps nobody took (requested, expired). */
    reviewer: string | null;
    decision: ApprovalDecision | null;
    /** Reviewer's reason, or why the gateway requested/expired it. */
    reason: string | null;
  };
}

export type AuditRecordV1 = StatementRecord | ResultRecord | ApprovalRecord;

/** Fields the writer fills in; callers never set them (except `id`, optionally). */
export type WriterFilled = 'ts' | 'kind' | 'id' | 'stream' | 'seq' | 'prevHash' | 'hash';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a caller hands AuditWriter.write(). */
export type AuditInput = DistributiveOmit<AuditRecordV1, WriterFilled> & { id?: string };
