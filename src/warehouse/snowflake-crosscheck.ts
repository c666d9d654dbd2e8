// Snowflake's own reading of a rewritten statement, from `EXPLAIN USING JSON`, checked against
// what the rewrite says it produced. There is no local Snowflake parser, so the plan's table
// scans are the engine's word on which tables a text reads: every object the plan scans must be
// a table the rewrite placed inside a phigate projection, or the statement is denied.
//
// Shape of the JSON (Snowflake documentation, "EXPLAIN"; one row, column "content"):
//   { "GlobalStats": { "partitionsTotal": n, "partitionsAssigned": n, "bytesAssigned": n },
//     "Operations": [ [ { "id": 0, "operation": "Result", "expressions": [...] },
//                       { "id": 1, "parentOperators": [0], "operation": "TableScan",
//                         "objects": ["DB.SCHEMA.TABLE"], "expressions": [...], ... }, ... ] ] }
// "Operations" holds one list of operators per step. Operators that read stored data name it
// in "objects" (TableScan, IndexScan, ...); external data shows as ExternalScan and table
// functions as their own operators (Generator, ExternalFunction, ...).
//
// The check is one-sided on purpose: the optimizer may prune a scan the text names (WHERE
// FALSE, a LIMIT 0), so a projection table missing from the plan is not a disagreement, but a
// scanned object that no projection accounts for always is.
import { EngineDisagreement, type CatalogTable, type RewriteExpectation } from './types.ts';

/** Operators that read something other than a stored table the catalog knows: always denied. */
const FOREIGN_OPERATORS = /external|udtf|udf|javascript|python|java|stage|filescan|copy/i;

export interface ExplainPlan {
  GlobalStats?: Record<string, unknown>;
  Operations?: unknown;
}

/** Splits a printed object name into its parts, honouring double-quoted parts. */
export function splitObjectName(name: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i <= name.length) {
    if (name[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= name.length) throw new EngineDisagreement(`cannot read the object name ${JSON.stringify(name)} in the plan`);
        if (name[j] === '"') {
          if (name[j + 1] === '"') { part += '"'; j += 2; continue; }
          break;
        }
        part += name[j++];
      }
      parts.push(part);
      i = j + 1;
    } else {
      let j = name.indexOf('.', i);
      if (j < 0) j = name.length;
      // Unquoted parts are stored upper-cased by Snowflake.
      parts.push(name.slice(i, j).toUpperCase());
      i = j;
    }
    if (i < name.length && name[i] !== '.') throw new EngineDisagreement(`cannot read the object name ${JSON.stringify(name)} in the plan`);
    i++;
  }
  return parts;
}

const key = (parts: string[]) => JSON.stringify(parts);

/** Every operator of the plan, whatever its step. */
function operators(plan: ExplainPlan): Record<string, unknown>[] {
  const ops = plan.Operations;
  if (!Array.isArray(ops)) throw new EngineDisagreement('Snowflake\'s plan has no Operations list');
  const out: Record<string, unknown>[] = [];
  for (const step of ops) {
    if (!Array.isArray(step)) throw new EngineDisagreement('Snowflake\'s plan has an Operations step that is not a list');
    for (const op of step) {
      if (typeof op !== 'object' || op === null || Array.isArray(op)) throw new EngineDisagreement('Snowflake\'s plan has an operator phigate cannot read');
      out.push(op as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * Throws EngineDisagreement unless every object the plan reads is a table that the rewrite
 * placed inside a phigate projection. Returns the tables the plan scans (for tests and logs).
 */
export function checkExplainPlan(plan: ExplainPlan, expect: RewriteExpectation): string[] {
  const expected = new Map<string, CatalogTable>();
  for (const p of expect.projectionTables) expected.set(key([p.table.database, p.table.schema, p.table.name]), p.table);
  const upper = new Map<string, CatalogTable>();
  for (const t of expected.values()) upper.set(key([t.database, t.schema, t.name].map((s) => s.toUpperCase())), t);
  const scanned: string[] = [];
  for (const op of operators(plan)) {
    const name = typeof op.operation === 'string' ? op.operation : '';
    if (FOREIGN_OPERATORS.test(name)) throw new EngineDisagreement(`Snowflake's plan reads data through ${name}, outside every phigate projection`);
    const objects = op.objects;
    if (objects === undefined || objects === null) continue;
    if (!Array.isArray(objects)) throw new EngineDisagreement(`Snowflake's plan lists the objects of ${name || 'an operator'} in a shape phigate cannot read`);
    for (const o of objects) {
      if (typeof o !== 'string') throw new EngineDisagreement(`Snowflake's plan names an object phigate cannot read (${name})`);
      const parts = splitObjectName(o);
      if (parts.length !== 3) throw new EngineDisagreement(`Snowflake's plan names ${o}, which is not a fully qualified table`);
      // Exact (case-sensitive) match first; a plan that prints quoted mixed-case names without
      // quotes is matched case-insensitively, which can only accept tables the rewrite placed.
      if (!expected.has(key(parts)) && !upper.has(key(parts.map((s) => s.toUpperCase())))) {
        throw new EngineDisagreement(`Snowflake's plan scans ${o}, which is outside every phigate projection`);
      }
      scanned.push(o);
    }
  }
  return scanned;
}

/** Parses the `content` of EXPLAIN USING JSON. */
export function parseExplain(content: unknown): ExplainPlan {
  let plan: unknown = content;
  if (typeof content === 'string') {
    try { plan = JSON.parse(content); } catch { throw new EngineDisagreement('Snowflake\'s EXPLAIN output is not JSON'); }
  }
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw new EngineDisagreement('Snowflake\'s EXPLAIN output is not a plan object');
  return plan as ExplainPlan;
}
