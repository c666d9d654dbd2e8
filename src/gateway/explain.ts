// What an agent may do under its policy, and what decision a statement would get, without
// running anything: the pure stages (analyse, decide) over the compiled policy and the
// warehouse catalog. Front ends use it to explain; the pipeline alone executes.
import { GUARDRAIL_TEXT } from '../policy/decide.ts';
import type { GuardrailClass, MaskStrategy } from '../api/types.ts';
import { analyse, columnKey, tableKey, Unanalysable, UnknownTable } from '../sql/analyse.ts';
import { decide } from '../policy/decide.ts';
import { displayColumn, findTable, type ColumnMask, type CompiledPolicy, type CompiledTable } from '../policy/compile.ts';
import type { CatalogColumn, SnowflakeType } from '../warehouse/types.ts';
import { forbidden, unanalysable, CODES } from './errors.ts';
import type { ServedPolicy } from './pipeline.ts';

export interface ColumnView {
  name: string;
  type: string;
  /** Set when a masking rule applies: what the agent sees instead of the value, and why. */
  masking?: { strategy: MaskStrategy; effect: string; why: string; unmaskWithApproval: boolean };
  /** Free text no rule classifies: detector matches are replaced inside the warehouse (see scrubNote). */
  scrubbed?: true;
}

export interface TableView { table: string; qualified: string; columns: ColumnView[] }

export interface DryRun {
  policy: string;
  outcome: 'allowed' | 'masked' | 'pending_approval' | 'denied';
  /** For a denial: the rule, HTTP status and stable code the real statement would get. */
  rule?: string;
  status?: number;
  code?: string;
  reason: string;
  kind: string | null;
  tables: string[];
  columns: string[];
  masked: { column: string; strategy: MaskStrategy }[];
  scrubbed: string[];
  /** Output column → the masked sources it comes from ("PATIENTS.SSN: redact"). */
  outputMasking: Record<string, string>;
  /** Output columns from free text the detectors scrub (identifiers replaced, the rest kept). */
  outputScrubbed: string[];
  approvalReasons: string[];
  maxRows: number;
}

export const SQL_TYPE: Record<SnowflakeType, string> = {
  fixed: 'NUMBER', real: 'FLOAT', text: 'VARCHAR', date: 'DATE', time: 'TIME', timestamp_ntz: 'TIMESTAMP_NTZ',
  timestamp_tz: 'TIMESTAMP_TZ', timestamp_ltz: 'TIMESTAMP_LTZ', boolean: 'BOOLEAN', binary: 'BINARY',
  variant: 'VARIANT', object: 'OBJECT', array: 'ARRAY',
};

/** What a guardrail class refuses, in words an agent can act on. */
/** What each guardrail class refuses (one text, shared with the decision's reasons). */
export const GUARDRAIL_MEANING: Record<GuardrailClass, string> = GUARDRAIL_TEXT;

/** What a mask strategy leaves of a value, and what that means for queries over it. */
export function maskEffect(m: ColumnMask, column: Pick<CatalogColumn, 'textual'>): string {
  const p = m.plan;
  switch (p.strategy) {
    case 'redact':
      return column.textual
        ? "every value reads '[REDACTED]': a constant, so filtering, joining, grouping or COUNT(DISTINCT) on it is meaningless"
        : 'every value is NULL: a constant, so filtering, joining or grouping on it is meaningless';
    case 'null': return 'every value is NULL';
    case 'partial': return `all but the last ${p.keep ?? 4} characters become '*'; comparisons see the masked text`;
    case 'hash': return 'a keyed, deterministic hex digest: equal values give equal digests, so joins, GROUP BY and COUNT(DISTINCT) work; the original cannot be recovered';
    case 'year': return 'truncated to January 1 of its year (the type is kept): filter and group by year only';
    case 'zip3': return "the first three digits followed by '00' (restricted areas become '00000'): group by 3-digit area only";
    case 'email_domain': return "'*@' followed by the domain";
    case 'scrub': return `free text in which identifiers found by the detectors (${(p.detectors ?? []).join(', ')}) are replaced by placeholders such as [SSN]`;
    default: return 'masked';
  }
}

function unmaskable(policy: CompiledPolicy, display: string): boolean {
  return policy.approval.requiredWhen.some((c) => (c.unmasked ?? []).some((u) => u.toUpperCase() === display));
}

function tableView(policy: CompiledPolicy, ct: CompiledTable): TableView {
  const columns = ct.table.columns
    .filter((c) => ct.allowed.includes(c.name.toUpperCase()))
    .map((c): ColumnView => {
      const name = c.name.toUpperCase();
      const view: ColumnView = { name: c.name, type: SQL_TYPE[c.type] ?? c.type.toUpperCase() };
      const mask = ct.masks.get(name);
      const display = `${ct.display}.${name}`;
      if (mask) {
        view.masking = {
          strategy: mask.plan.strategy,
          effect: maskEffect(mask, c),
          why: `policy ${policy.ref.name} classifies ${display} as protected (rule ${mask.rule}); it is masked inside the warehouse wherever it appears, so predicates and joins see the masked value too`,
          unmaskWithApproval: unmaskable(policy, display),
        };
      } else if (c.textual && policy.detectors.length > 0) {
        view.scrubbed = true;
      }
      return view;
    });
  const t = ct.table;
  return { table: ct.display, qualified: `${t.database}.${t.schema}.${t.name}`, columns };
}

/** What `scrubbed: true` on a column means under this policy. */
export function scrubNote(policy: CompiledPolicy): string | undefined {
  if (policy.detectors.length === 0) return undefined;
  return `columns marked scrubbed are text that no masking rule classifies: identifiers the detectors find in them (${policy.detectors.join(', ')}) are replaced by placeholders such as [SSN] inside the warehouse, before your SQL sees the text`;
}

/** Every table the policy allows, with only its allowed columns. */
export function allowedTables(served: ServedPolicy): TableView[] {
  const policy = served.compiled;
  return [...policy.tables.values()].map((ct) => tableView(policy, ct)).sort((a, b) => a.table.localeCompare(b.table));
}

/** One allowed table by name (unqualified names resolve as in SQL); a 403 otherwise. */
export async function allowedTable(served: ServedPolicy, name: string): Promise<TableView> {
  const policy = served.compiled;
  const found = findTable(await served.warehouse.catalog(), name.trim().replace(/"/g, ''));
  const ct = found && policy.tables.get(tableKey(found));
  if (!ct) {
    throw forbidden('table_not_allowed', `table ${name.toUpperCase()} does not exist or is not authorized by policy ${policy.ref.name}; allowed tables: ${[...policy.tables.values()].map((t) => t.display).sort().join(', ') || 'none'}`, CODES.noSuchObject);
  }
  return tableView(policy, ct);
}

/** What the policy lets its subjects do, for an agent to plan its queries. */
export function policySummary(served: ServedPolicy) {
  const p = served.compiled;
  return {
    policy: { namespace: p.ref.namespace, name: p.ref.name, generation: p.ref.generation },
    warehouse: served.warehouse.engine,
    statements: [...p.statements],
    executes: 'SELECT only: other statement kinds are refused even where the policy lists them',
    maxRows: p.maxRows,
    tables: allowedTables(served).map((t) => ({
      table: t.table,
      columns: t.columns.map((c) => c.name.toUpperCase()),
      masked: Object.fromEntries(t.columns.filter((c) => c.masking).map((c) => [c.name.toUpperCase(), c.masking!.strategy])),
      scrubbed: t.columns.filter((c) => c.scrubbed).map((c) => c.name.toUpperCase()),
    })),
    notListed: 'any table or column not listed here does not exist for you: naming it is refused',
    guardrails: [...p.guardrails].map((g) => ({ deny: g, meaning: GUARDRAIL_MEANING[g] })),
    detectors: [...p.detectors],
    approval: {
      requiredWhen: p.approval.requiredWhen,
      approvers: p.approval.approvers.map((a) => `${a.kind}:${a.name}`),
      requiredApprovals: p.approval.requiredApprovals,
      ttlSeconds: Math.round(p.approval.ttlMs / 1000),
    },
  };
}

/** The decision a statement would get, from analyse and decide alone. Nothing runs. */
export async function dryRun(served: ServedPolicy, sql: string, unmask: string[] = []): Promise<DryRun> {
  const policy = served.compiled;
  const catalog = await served.warehouse.catalog();
  const base = { policy: policy.ref.name, kind: null, tables: [], columns: [], masked: [], scrubbed: [], outputMasking: {}, outputScrubbed: [], approvalReasons: [], maxRows: policy.maxRows };
  let facts;
  try {
    facts = analyse(sql, catalog);
  } catch (e) {
    // The same errors, rules and codes as the pipeline's plan stage.
    const err = e instanceof UnknownTable ? forbidden('table_not_allowed', `${e.message} (policy ${policy.ref.name})`, CODES.noSuchObject)
      : e instanceof Unanalysable ? unanalysable('unanalysable', `the gateway cannot analyse this statement: ${e.what}. Rewrite it with plain SELECT, JOIN, WHERE, GROUP BY and the usual functions`)
      : null;
    if (!err) throw e;
    return { ...base, outcome: 'denied', rule: err.rule, status: err.status, code: err.code, reason: err.message };
  }
  const facts_ = {
    kind: facts.kind,
    tables: [...new Set(facts.tables.map((t) => tableKey(t.table)))],
    columns: facts.columns.map((c) => displayColumn(policy, c)),
  };
  const decision = decide(facts, policy, { unmask: unmask.map((u) => u.toUpperCase()) });
  if (decision.outcome === 'denied') {
    const code = decision.status === 422 ? CODES.syntax : CODES.notAuthorized;
    return { ...base, ...facts_, outcome: 'denied', rule: decision.rule, status: decision.status, code, reason: decision.reason };
  }
  const masked = [...decision.masks.entries()].filter(([k]) => !decision.unmask.has(k))
    .map(([k, m]) => ({ column: displayColumn(policy, k), strategy: m.plan.strategy }));
  const maskedKeys = new Map([...decision.masks.entries()].filter(([k]) => !decision.unmask.has(k)));
  const scrubbedKeys = new Set<string>();
  for (const ref of facts.tables) {
    const ct = policy.tables.get(tableKey(ref.table));
    if (!ct || policy.detectors.length === 0) continue;
    for (const c of ref.table.columns) {
      const key = columnKey(ref.table, c.name);
      if (c.textual && !ct.masks.has(c.name.toUpperCase()) && facts.columns.includes(key)) scrubbedKeys.add(key);
    }
  }
  const outputMasking: Record<string, string> = {};
  const outputScrubbed: string[] = [];
  for (const o of facts.output) {
    const notes = o.sources.flatMap((s) => {
      const m = maskedKeys.get(s);
      return m ? [`${displayColumn(policy, s)}: ${m.plan.strategy}`] : [];
    });
    if (notes.length) outputMasking[o.name] = notes.join('; ');
    else if (o.sources.some((s) => scrubbedKeys.has(s))) outputScrubbed.push(o.name);
  }
  return {
    ...base, ...facts_,
    outcome: decision.outcome,
    reason: decision.outcome === 'pending_approval'
      ? `needs approval: ${decision.approvalReasons.join('; ')}`
      : masked.length ? `allowed by ${policy.ref.name}; masked ${masked.map((m) => m.column).join(', ')}` : `allowed by ${policy.ref.name}`,
    masked,
    scrubbed: [...scrubbedKeys].map((k) => displayColumn(policy, k)),
    outputMasking,
    outputScrubbed,
    approvalReasons: decision.approvalReasons,
    maxRows: decision.maxRows,
  };
}
