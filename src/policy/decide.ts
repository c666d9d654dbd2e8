// decide(facts, policy, request) → Decision. Pure: the same inputs always give the same
// decision, so a decision can be replayed from the audit record. Anything not explicitly
// allowed is denied, with a reason that tells the agent what to change.
import type { GuardrailClass } from '../api/types.ts';
import type { StatementFacts } from '../sql/analyse.ts';
import type { CompiledPolicy, ColumnMask } from './compile.ts';
import { displayColumn } from './compile.ts';

export interface Denial {
  outcome: 'denied';
  /** 403: policy says no. 422: the gateway cannot analyse the SQL. */
  status: 403 | 422;
  rule: string;
  reason: string;
}

export interface Permit {
  outcome: 'allowed' | 'masked' | 'pending_approval';
  rules: string[];
  /** Masks that apply to columns this statement uses, by column key. */
  masks: Map<string, ColumnMask>;
  /** Columns the request asked to see in clear (keys); only effective once approved. */
  unmask: Set<string>;
  approvalReasons: string[];
  maxRows: number;
}

export type Decision = Denial | Permit;

export interface RequestOptions {
  /** TABLE.COLUMN names the agent asks to see unmasked. */
  unmask?: string[];
}

/** What each guardrail class refuses, in words an agent can act on. */
export const GUARDRAIL_TEXT: Record<GuardrailClass, string> = {
  ddl: 'DDL (CREATE, ALTER, DROP, TRUNCATE) is not allowed',
  dml_without_where: 'UPDATE or DELETE without WHERE is not allowed',
  dml: 'statements that modify data are not allowed',
  copy_into: 'COPY, unload, stage and file transfer statements are not allowed',
  grant: 'GRANT and REVOKE are not allowed',
  multi_statement: 'send one statement per request',
  unparsed: 'the statement could not be parsed',
  session_change: 'SET, USE and ALTER SESSION are not allowed: the gateway fixes the session',
  external_access: 'ATTACH, INSTALL, LOAD and other external access are not allowed',
};

/** Most specific first, so a denial names the narrowest class that applies. */
const GUARDRAIL_PRIORITY: GuardrailClass[] = [
  'multi_statement', 'external_access', 'copy_into', 'grant', 'ddl', 'dml_without_where', 'dml', 'session_change',
];

const deny = (status: 403 | 422, rule: string, reason: string): Denial => ({ outcome: 'denied', status, rule, reason });

export function decide(facts: StatementFacts, policy: CompiledPolicy, req: RequestOptions = {}): Decision {
  // Guardrails first: they name the class of what was attempted, whatever else is wrong.
  for (const c of GUARDRAIL_PRIORITY) {
    if (facts.classes.includes(c) && policy.guardrails.has(c)) return deny(403, c, `${GUARDRAIL_TEXT[c]} (guardrail ${c})`);
  }
  if (facts.classes.includes('unparsed')) {
    return deny(422, 'unparsed', 'the statement could not be read (an unterminated string, quoted name or comment?)');
  }
  if (facts.kind === 'MULTI') return deny(403, 'multi_statement', 'send one statement per request: the gateway analyses and audits each statement on its own');
  if (!policy.statements.has(facts.kind)) {
    return deny(403, 'statement_not_allowed', `${facts.kind} statements are not allowed by policy ${policy.ref.name}; allowed: ${[...policy.statements].join(', ') || 'none'}`);
  }
  if (!facts.parsed) {
    return deny(422, 'unparsed', 'the statement could not be parsed as Snowflake SQL; simplify it or split it into plain SELECTs');
  }
  if (facts.kind !== 'SELECT') {
    return deny(403, 'not_supported', `phigate executes SELECT statements only; ${facts.kind} is refused`);
  }

  for (const ref of facts.tables) {
    const key = `${ref.table.database}.${ref.table.schema}.${ref.table.name}`.toUpperCase();
    if (!policy.tables.has(key)) {
      return deny(403, 'table_not_allowed', `table ${ref.table.name.toUpperCase()} does not exist or is not authorized by policy ${policy.ref.name}`);
    }
  }
  for (const col of facts.columns) {
    const i = col.lastIndexOf('.');
    const t = policy.tables.get(col.slice(0, i))!;
    if (!t.allowed.includes(col.slice(i + 1))) {
      return deny(403, 'column_not_allowed', `column ${displayColumn(policy, col)} is not authorized by policy ${policy.ref.name}; allowed columns of ${t.display}: ${t.allowed.join(', ')}`);
    }
  }

  const masks = new Map<string, ColumnMask>();
  for (const col of facts.columns) {
    const i = col.lastIndexOf('.');
    const m = policy.tables.get(col.slice(0, i))!.masks.get(col.slice(i + 1));
    if (m) masks.set(col, m);
  }

  const unmask = new Set<string>();
  const approvalReasons: string[] = [];
  const byDisplay = new Map([...masks.keys()].map((k) => [displayColumn(policy, k), k]));
  for (const name of req.unmask ?? []) {
    const key = byDisplay.get(name.toUpperCase());
    if (!key) return deny(403, 'unmask_not_applicable', `unmask names ${name.toUpperCase()}, which is not a masked column this statement uses`);
    const covered = policy.approval.requiredWhen.some((c) => (c.unmasked ?? []).some((u) => u.toUpperCase() === name.toUpperCase()));
    if (!covered) return deny(403, 'unmask_not_allowed', `policy ${policy.ref.name} never shows ${name.toUpperCase()} unmasked, not even with approval`);
    unmask.add(key);
    approvalReasons.push(`unmasked ${name.toUpperCase()}`);
  }
  for (const c of policy.approval.requiredWhen) {
    if (c.statements?.includes(facts.kind)) approvalReasons.push(`statement ${facts.kind}`);
    for (const t of c.tables ?? []) {
      if (facts.tables.some((r) => r.table.name.toUpperCase() === t.toUpperCase().split('.').pop())) approvalReasons.push(`table ${t.toUpperCase()}`);
    }
  }
  if (approvalReasons.length && policy.approval.approvers.length === 0) {
    return deny(403, 'approval_unavailable', `this statement needs approval (${approvalReasons.join('; ')}) but policy ${policy.ref.name} lists no approvers`);
  }

  const rules = [...new Set([...masks.values()].map((m) => m.rule))];
  const outcome = approvalReasons.length ? 'pending_approval' : masks.size ? 'masked' : 'allowed';
  return { outcome, rules, masks, unmask, approvalReasons: [...new Set(approvalReasons)], maxRows: policy.maxRows };
}
