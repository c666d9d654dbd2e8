// Replace every table reference, at the position the parser reported, by a projection of
// that table holding only the policy's allowed columns, each masked column replaced by its
// mask expression under the same name. The rest of the agent's text is untouched. Then read
// the result again and insist that every table reference sits inside a phigate projection.
import type { StatementFacts } from '../sql/analyse.ts';
import { parse, tableKey } from '../sql/analyse.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { Permit } from '../policy/decide.ts';
import type { CatalogTable, RewriteExpectation, Warehouse } from '../warehouse/types.ts';

export class RewriteRejected extends Error {
  constructor(message: string) { super(message); this.name = 'RewriteRejected'; }
}

export interface Rewritten {
  sql: string;
  expectation: RewriteExpectation;
  /** Columns scrubbed by detectors because no rule classifies them (keys). */
  scrubbed: string[];
}

interface Projection { prefix: string; fq: string; suffix: string; scrubbed: string[] }

/** The masked projection of one table: `(SELECT ... FROM <fq>)`, split around the table name. */
export function buildProjection(table: CatalogTable, policy: CompiledPolicy, permit: Pick<Permit, 'unmask'>, wh: Warehouse, used?: Set<string>): Projection {
  const key = tableKey(table);
  const ct = policy.tables.get(key);
  if (!ct) throw new RewriteRejected(`no policy entry for ${table.name}`);
  const scrubbed: string[] = [];
  const allowed = table.columns.filter((c) => ct.allowed.includes(c.name.toUpperCase()));
  // Only the columns the statement uses (every name bound, so no other can be referenced; a
  // reference the analyser missed fails in the engine as an unknown column). A projection
  // needs at least one column, e.g. for COUNT(*).
  const wanted = used ? allowed.filter((c) => used.has(`${key}.${c.name.toUpperCase()}`)) : allowed;
  const items = (wanted.length ? wanted : allowed.slice(0, 1))
    .map((c) => {
      const q = wh.quoteIdent(c.name);
      const colKey = `${key}.${c.name.toUpperCase()}`;
      const mask = ct.masks.get(c.name.toUpperCase());
      if (mask && !permit.unmask.has(colKey)) return `${wh.maskExpression(mask.plan, q, c)} AS ${q}`;
      if (!mask && c.textual && policy.detectors.length > 0) {
        // Free text no rule classifies is scrubbed in the engine, so whatever the agent's SQL
        // does with it, it does it to text that is already clean.
        scrubbed.push(colKey);
        return `${wh.maskExpression({ strategy: 'scrub', detectors: policy.detectors }, q, c)} AS ${q}`;
      }
      return q;
    });
  if (items.length === 0) throw new RewriteRejected(`policy allows no columns of ${table.name}`);
  const fq = [table.database, table.schema, table.name].map((p) => wh.quoteIdent(p)).join('.');
  return { prefix: `(SELECT ${items.join(', ')} FROM `, fq, suffix: ')', scrubbed };
}

export function rewrite(sql: string, facts: StatementFacts, policy: CompiledPolicy, permit: Pick<Permit, 'unmask'>, wh: Warehouse): Rewritten {
  const cache = new Map<string, Projection>();
  const used = new Set(facts.columns);
  const splices: { start: number; end: number; text: string; fqOffset: number; table: CatalogTable }[] = [];
  const scrubbed = new Set<string>();
  for (const ref of facts.tables) {
    const key = tableKey(ref.table);
    let p = cache.get(key);
    if (!p) { p = buildProjection(ref.table, policy, permit, wh, used); cache.set(key, p); }
    for (const s of p.scrubbed) scrubbed.add(s);
    splices.push({ start: ref.start, end: ref.end, text: `${p.prefix}${p.fq}${p.suffix} AS ${ref.aliasText}`, fqOffset: p.prefix.length, table: ref.table });
  }
  splices.sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  let delta = 0;
  const projectionTables: RewriteExpectation['projectionTables'] = [];
  const shift: { at: number; delta: number }[] = [];
  for (const s of splices) {
    if (s.start < pos) throw new RewriteRejected('overlapping table references');
    out += sql.slice(pos, s.start);
    const fqStart = out.length + s.fqOffset;
    projectionTables.push({ start: fqStart, end: fqStart + (s.text.length - s.fqOffset), table: s.table });
    out += s.text;
    delta += s.text.length - (s.end - s.start);
    shift.push({ at: s.end, delta });
    pos = s.end;
  }
  out += sql.slice(pos);
  const moved = (offset: number) => offset + (shift.filter((x) => x.at <= offset).pop()?.delta ?? 0);
  const cteReferences = facts.cteReferences.map((c) => ({ start: moved(c.start), end: moved(c.end), name: c.name }));
  // The projection's inner table name ends where its fq ends; fix the end offsets precisely.
  for (const [i, p] of projectionTables.entries()) {
    const fq = cache.get(tableKey(splices[i]!.table))!.fq;
    p.end = p.start + fq.length;
  }
  const rewritten = { sql: out, expectation: { projectionTables, cteReferences }, scrubbed: [...scrubbed] };
  recheck(rewritten);
  return rewritten;
}

/**
 * Parse the rewritten text again: every table reference must be one the rewrite placed inside
 * a projection, or a CTE reference the analyser bound. Anything else means the text reads
 * differently from what was analysed, and it is refused.
 */
export function recheck(r: Rewritten): void {
  const asts = parse(r.sql);
  if (!asts || asts.length !== 1) throw new RewriteRejected('the rewritten statement does not parse as one statement');
  const expected = new Set([
    ...r.expectation.projectionTables.map((p) => p.start),
    ...r.expectation.cteReferences.map((c) => c.start),
  ]);
  const seen: number[] = [];
  collectTableRefs(asts[0], seen);
  for (const start of seen) {
    if (!expected.has(start)) throw new RewriteRejected('a table reference outside a phigate projection');
  }
  if (seen.length !== expected.size) throw new RewriteRejected('the rewritten statement has a different number of table references');
}

function collectTableRefs(node: any, out: number[]): void {
  if (Array.isArray(node)) { for (const n of node) collectTableRefs(n, out); return; }
  if (!node || typeof node !== 'object') return;
  if (typeof node.table === 'string' && 'db' in node && node.type !== 'column_ref' && node.loc) {
    out.push(node.loc.start.offset);
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === 'surround' || k === 'loc') continue;
    collectTableRefs(v, out);
  }
}
