// DuckDB's own reading of a rewritten statement (the JSON of json_serialize_sql), checked
// against what the rewrite says it produced. The analyser and DuckDB's parser are different
// programs; where they read one text differently, masking could be bypassed, so any
// difference is a denial.
//
// Shape of the JSON, as DuckDB 1.5.6 prints it (found by experiment):
//   { error: false, statements: [ { node: QueryNode, named_param_map } ] }
//   { error: true, error_type, error_message, error_subtype?, position? }
// Query nodes (`type` ends in _NODE): SELECT_NODE (from_table, select_list, where_clause, ...),
// SET_OPERATION_NODE (left, right), RECURSIVE_CTE_NODE (cte_name, left = anchor, right = the
// recursive part). Each carries cte_map.map = [{ key: name, value: { query: { node } } }].
// Table references (a string `type`, `alias` and `query_location`, no `class`): BASE_TABLE
// (catalog_name, schema_name, table_name, at_clause; query_location = offset of the first
// character of the possibly qualified name), JOIN (left, right, condition), SUBQUERY
// (subquery.node), TABLE_FUNCTION, EXPRESSION_LIST (VALUES), EMPTY, PIVOT, SHOW_REF, ...
// Expressions carry `class`; subqueries inside them hold { subquery: { node } }.
// References to CTEs are BASE_TABLE nodes too. A CTE is visible in the main body and in the
// bodies of the CTEs after it (never its own, unless it is a RECURSIVE_CTE_NODE's recursive
// part), and in nested queries; a qualified name never refers to a CTE.
import { EngineDisagreement, type CatalogTable, type RewriteExpectation } from './types.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const QUERY_NODES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE']);
/** Statement roots that are SELECT statements (a UNION at the top is one too). */
const ROOT_NODES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE']);
/** FROM elements that hold only other FROM elements, subqueries or expressions. */
const CONTAINER_REFS = new Set(['JOIN', 'SUBQUERY', 'EXPRESSION_LIST', 'EMPTY']);

/** Types that are table references whatever other keys they carry. */
const TABLE_REF_TYPES = new Set(['BASE_TABLE', 'TABLE_FUNCTION', 'JOIN', 'SUBQUERY', 'EXPRESSION_LIST', 'EMPTY', 'PIVOT', 'SHOW_REF']);

const fold = (s: string): string => s.toUpperCase();
const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '');

/** DuckDB prints "no location" as 2^64-1, which JSON.parse rounds: treat it as absent. */
function location(v: Json | undefined): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Names of the CTEs visible at a point of the tree (upper-cased, as DuckDB matches them). */
class Scope {
  constructor(private readonly names: ReadonlySet<string> = new Set()) {}
  with(name: string): Scope { return new Scope(new Set([...this.names, fold(name)])); }
  has(name: string): boolean { return this.names.has(fold(name)); }
}

/**
 * Throws EngineDisagreement unless `parsed` (json_serialize_sql output) is one SELECT statement
 * whose every base-table reference is exactly one of the expected ones. Messages carry offsets,
 * node types and catalog names only, never text from the statement.
 */
export function checkDuckDBParse(parsed: unknown, expect: RewriteExpectation, defaults: EngineDefaults): void {
  const tree = parsed as Json;
  if (!isObj(tree)) throw new EngineDisagreement('DuckDB returned no parse tree for the rewritten statement');
  if (tree.error !== false) {
    // error_message quotes the statement text, which may hold literals: report the kind only.
    const kind = [str(tree.error_type), str(tree.error_subtype)].filter(Boolean).join('/') || 'unknown';
    const at = location(typeof tree.position === 'string' ? Number(tree.position) : tree.position);
    throw new EngineDisagreement(`DuckDB cannot parse the rewritten statement: ${kind} error${at === undefined ? '' : ` at offset ${at}`}`);
  }
  const statements = tree.statements;
  if (!Array.isArray(statements) || statements.length !== 1) {
    throw new EngineDisagreement(`DuckDB reads ${Array.isArray(statements) ? statements.length : 0} statements in the rewritten text, expected exactly one`);
  }
  const root = isObj(statements[0]) ? statements[0].node : undefined;
  if (!isObj(root) || !ROOT_NODES.has(str(root.type))) {
    throw new EngineDisagreement('DuckDB does not read the rewritten statement as a single SELECT');
  }
  new Walker(expect, defaults).run(root);
}

/** What DuckDB resolves omitted name parts against on a fresh connection. */
export interface EngineDefaults { database: string; schema: string }

/** Objects of a given `type` anywhere in the tree, whatever their position. */
function countType(v: Json, type: string): number {
  if (Array.isArray(v)) return v.reduce<number>((n, x) => n + countType(x, type), 0);
  if (!isObj(v)) return 0;
  let n = v.type === type && !('class' in v) ? 1 : 0;
  for (const child of Object.values(v)) n += countType(child, type);
  return n;
}

class Walker {
  private readonly projections = new Map<number, CatalogTable>();
  private readonly ctes = new Map<number, string>();
  private readonly seen = new Set<number>();
  private checked = 0;

  constructor(private readonly expect: RewriteExpectation, private readonly defaults: EngineDefaults) {
    for (const p of expect.projectionTables) this.projections.set(p.start, p.table);
    for (const c of expect.cteReferences) this.ctes.set(c.start, c.name);
  }

  run(root: Obj): void {
    this.visit(root, new Scope());
    // Belt and braces: the structured walk must have checked every table reference in the
    // tree. One it did not reach (a shape this code does not know) fails the check.
    const [bases, functions] = [countType(root, 'BASE_TABLE'), countType(root, 'TABLE_FUNCTION')];
    if (bases !== this.checked || functions !== 0) {
      throw new EngineDisagreement('DuckDB reads table references where phigate cannot follow them');
    }
    for (const p of this.expect.projectionTables) {
      if (!this.seen.has(p.start)) {
        throw new EngineDisagreement(`DuckDB does not read table ${p.table.name} at offset ${p.start} where the rewrite placed it`);
      }
    }
  }

  private visit(v: Json, scope: Scope): void {
    if (Array.isArray(v)) { for (const x of v) this.visit(x, scope); return; }
    if (!isObj(v)) return;
    const type = v.type;
    if (typeof type === 'string' && !('class' in v)) {
      if (type.endsWith('_NODE')) return this.visitQuery(v, type, scope);
      if (TABLE_REF_TYPES.has(type) || ('alias' in v && 'query_location' in v)) return this.visitTableRef(v, type, scope);
    }
    for (const child of Object.values(v)) this.visit(child, scope);
  }

  private visitQuery(node: Obj, type: string, outer: Scope): void {
    if (!QUERY_NODES.has(type)) throw new EngineDisagreement(`DuckDB reads a query part phigate does not know (${type})`);
    let scope = outer;
    const cteMap = node.cte_map;
    const entries = isObj(cteMap) && Array.isArray(cteMap.map) ? cteMap.map : [];
    for (const entry of entries) {
      if (!isObj(entry) || typeof entry.key !== 'string') throw new EngineDisagreement('DuckDB reads a CTE phigate cannot follow');
      // A CTE's body sees only the CTEs before it (DuckDB, even WITH RECURSIVE).
      this.visit(entry.value ?? null, scope);
      scope = scope.with(entry.key);
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === 'cte_map') continue;
      // Only the recursive part of a recursive CTE refers to the CTE itself.
      const inner = type === 'RECURSIVE_CTE_NODE' && key === 'right' ? scope.with(str(node.cte_name)) : scope;
      this.visit(child, inner);
    }
  }

  private visitTableRef(ref: Obj, type: string, scope: Scope): void {
    if (type === 'BASE_TABLE') return this.checkBaseTable(ref, scope);
    if (type === 'TABLE_FUNCTION') {
      throw new EngineDisagreement(`DuckDB reads a table function at offset ${location(ref.query_location) ?? '?'} in the rewritten statement`);
    }
    if (!CONTAINER_REFS.has(type)) {
      throw new EngineDisagreement(`DuckDB reads a FROM element phigate does not allow (${type})`);
    }
    for (const child of Object.values(ref)) this.visit(child, scope);
  }

  private checkBaseTable(ref: Obj, scope: Scope): void {
    this.checked++;
    const at = location(ref.query_location);
    if (at === undefined) throw new EngineDisagreement('DuckDB reads a table reference without a position');
    if (ref.at_clause !== null && ref.at_clause !== undefined) {
      throw new EngineDisagreement(`DuckDB reads a time-travel clause on the table at offset ${at}`);
    }
    const name = str(ref.table_name), schema = str(ref.schema_name), catalog = str(ref.catalog_name);
    const unqualified = schema === '' && catalog === '';
    const isCte = unqualified && scope.has(name);

    const expectedCte = this.ctes.get(at);
    if (expectedCte !== undefined) {
      if (!isCte || fold(expectedCte) !== fold(name)) {
        throw new EngineDisagreement(`the reference at offset ${at} is a CTE to the analyser but not to DuckDB`);
      }
      return;
    }
    const table = this.projections.get(at);
    if (table === undefined || isCte) {
      throw new EngineDisagreement(`DuckDB reads a table at offset ${at} outside every phigate projection`);
    }
    // DuckDB names are case-insensitive, quoted or not; omitted parts resolve to DuckDB's own
    // defaults (not to the policy's schema), so compare what DuckDB will actually open.
    const same = fold(name) === fold(table.name)
      && fold(schema || this.defaults.schema) === fold(table.schema)
      && fold(catalog || this.defaults.database) === fold(table.database);
    if (!same) throw new EngineDisagreement(`DuckDB reads a different table at offset ${at} than the rewrite placed there (${table.name})`);
    this.seen.add(at);
  }
}
