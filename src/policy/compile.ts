// Compile an AccessPolicy against its warehouse catalog once per policy generation, so
// each request's decision is a handful of map lookups.
import type {
  AccessPolicy, DetectorName, GuardrailClass, MaskStrategy, StatementKind, ApprovalCondition, Approver,
} from '../api/types.ts';
import type { Catalog, CatalogTable, MaskPlan } from '../warehouse/types.ts';
import { columnKey, tableKey } from '../sql/analyse.ts';

export const ALL_GUARDRAILS: GuardrailClass[] = [
  'ddl', 'dml_without_where', 'dml', 'copy_into', 'grant', 'multi_statement', 'unparsed', 'session_change', 'external_access',
];
export const ALL_DETECTOR_NAMES: DetectorName[] = ['ssn', 'phone', 'email', 'mrn', 'date', 'ip', 'url', 'zip', 'credit_card'];
export const DEFAULT_MAX_ROWS = 10_000;

export interface ColumnMask { plan: MaskPlan; rule: string }

export interface CompiledTable {
  table: CatalogTable;
  /** Display name used in messages and audit: TABLE.COLUMN in upper case. */
  display: string;
  /** Upper-case names of the columns the policy allows, in catalog order. */
  allowed: string[];
  masks: Map<string, ColumnMask>;
}

export interface PolicyRef { namespace: string; name: string; generation: number }

export interface CompiledPolicy {
  ref: PolicyRef;
  policy: AccessPolicy;
  statements: Set<StatementKind>;
  tables: Map<string, CompiledTable>;
  guardrails: Set<GuardrailClass>;
  detectors: DetectorName[];
  maxRows: number;
  approval: { requiredWhen: ApprovalCondition[]; approvers: Approver[]; requiredApprovals: number; ttlMs: number };
  auditResults: 'masked' | 'digest' | 'none';
  /** Key of the hash strategy, kept to scrub it from engine errors; never logged. */
  hashKey?: string;
  /** Problems that did not stop compilation but a person should see (e.g. unknown tables). */
  warnings: string[];
}

export class PolicyError extends Error {
  constructor(message: string) { super(message); this.name = 'PolicyError'; }
}

/** `15m`, `1h30m`, `90s` → milliseconds (Go duration subset used by the CRD). */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new PolicyError(`invalid duration "${text}": use forms like 15m, 1h30m, 90s`);
  return total;
}

/** Split TABLE.COLUMN (or *.COLUMN); the table part may itself be qualified. */
function splitColumnRef(ref: string): { table: string; column: string } {
  const i = ref.lastIndexOf('.');
  if (i <= 0) throw new PolicyError(`"${ref}" must be TABLE.COLUMN or *.COLUMN`);
  return { table: ref.slice(0, i), column: ref.slice(i + 1).toUpperCase() };
}

export function findTable(catalog: Catalog, name: string): CatalogTable | undefined {
  const parts = name.split('.');
  if (parts.length === 1) return catalog.find({ table: parts[0]! });
  if (parts.length === 2) return catalog.find({ schema: parts[0], table: parts[1]! });
  return catalog.find({ database: parts[0], schema: parts[1], table: parts[2]! });
}

function compiledTableFor(tables: Map<string, CompiledTable>, catalog: Catalog, name: string): CompiledTable[] {
  const found = findTable(catalog, name);
  const ct = found && tables.get(tableKey(found));
  return ct ? [ct] : [];
}

export interface CompileOptions { hashKey?: string }

export function compilePolicy(policy: AccessPolicy, catalog: Catalog, opts: CompileOptions = {}): CompiledPolicy {
  const spec = policy.spec;
  const warnings: string[] = [];
  const ref: PolicyRef = {
    namespace: policy.metadata.namespace ?? 'default',
    name: policy.metadata.name,
    generation: policy.metadata.generation ?? 1,
  };
  const tables = new Map<string, CompiledTable>();
  for (const t of spec.access.tables) {
    const found = findTable(catalog, t.name);
    if (!found) { warnings.push(`access.tables: ${t.name} is not in the warehouse; it grants nothing`); continue; }
    const names = found.columns.map((c) => c.name.toUpperCase());
    const wanted = t.columns.map((c) => c.toUpperCase());
    for (const w of wanted) if (w !== '*' && !names.includes(w)) warnings.push(`access.tables: ${t.name}.${w} is not a column of the warehouse table`);
    const allowed = wanted.includes('*') ? names : names.filter((n) => wanted.includes(n));
    tables.set(tableKey(found), { table: found, display: found.name.toUpperCase(), allowed, masks: new Map() });
  }

  for (const [i, rule] of (spec.masking?.rules ?? []).entries()) {
    const plan: MaskPlan = { strategy: rule.strategy as MaskStrategy };
    if (rule.strategy === 'partial') plan.keep = rule.keep ?? 4;
    if (rule.strategy === 'scrub') plan.detectors = spec.masking?.detectors ?? ALL_DETECTOR_NAMES;
    if (rule.strategy === 'hash') {
      if (!opts.hashKey) throw new PolicyError(`masking.rules[${i}] uses strategy hash but masking.hashKeySecretRef names no Secret with a hashKey`);
      plan.hashKey = opts.hashKey;
    }
    for (const c of rule.columns) {
      const { table, column } = splitColumnRef(c);
      const targets = table === '*' ? [...tables.values()] : compiledTableFor(tables, catalog, table);
      for (const ct of targets) {
        if (!ct.table.columns.some((col) => col.name.toUpperCase() === column)) continue;
        // The first rule that names a column wins, as in the order a person reads the policy.
        if (!ct.masks.has(column)) ct.masks.set(column, { plan, rule: `mask:${ct.display}.${column}` });
      }
    }
  }

  return {
    ref,
    policy,
    statements: new Set(spec.access.statements),
    tables,
    guardrails: new Set(spec.guardrails?.deny ?? ALL_GUARDRAILS),
    detectors: spec.masking?.detectors ?? ALL_DETECTOR_NAMES,
    maxRows: spec.access.maxRows ?? DEFAULT_MAX_ROWS,
    approval: {
      requiredWhen: spec.approval?.requiredWhen ?? [],
      approvers: spec.approval?.approvers ?? [],
      requiredApprovals: spec.approval?.requiredApprovals ?? 1,
      ttlMs: parseDuration(spec.approval?.ttl ?? '15m'),
    },
    auditResults: spec.audit?.results ?? 'masked',
    hashKey: opts.hashKey,
    warnings,
  };
}

/** Column key → display name (TABLE.COLUMN) for messages and audit. */
export function displayColumn(policy: CompiledPolicy, key: string): string {
  const i = key.lastIndexOf('.');
  const t = policy.tables.get(key.slice(0, i));
  return `${t ? t.display : key.slice(0, i).split('.').pop()}.${key.slice(i + 1)}`;
}

export { columnKey, tableKey };
