// Statement facts, pure: kind, every table reference with its position, output-column
// lineage and the columns used in predicates. Every name must bind, as in a compiler: each
// qualifier to a relation in scope, each column to exactly one column of the catalog or of a
// derived table. Any AST shape this file does not know makes the statement unanalysable:
// we never guess what a construct means.
import nsp from 'node-sql-parser';
import type { Catalog, CatalogTable } from '../warehouse/types.ts';
import type { StatementKind } from '../api/types.ts';
import { classify, type Classification } from './classify.ts';
import { readTableReference } from './table-reference.ts';
import { AGGREGATE_FUNCTIONS, WINDOW_FUNCTIONS, isKnownFunction } from './functions.ts';

const parser = new nsp.Parser();
// trimQuery: false keeps the parser's offsets relative to the text we splice into.
const PARSE_OPTIONS = { database: 'snowflake', trimQuery: false, parseOptions: { includeLocations: true } };

/** The statement cannot be fully accounted for; `what` names the construct (never a value). */
export class Unanalysable extends Error {
  constructor(readonly what: string) { super(what); this.name = 'Unanalysable'; }
}
/** The statement names a table that does not exist in the warehouse catalog. */
export class UnknownTable extends Error {
  constructor(readonly table: string) { super(`table ${table} does not exist or is not authorized`); this.name = 'UnknownTable'; }
}

/** `DB.SCHEMA.TABLE` in upper case: the identity of a catalog table. */
export const tableKey = (t: CatalogTable) => `${t.database}.${t.schema}.${t.name}`.toUpperCase();
/** `DB.SCHEMA.TABLE.COLUMN` in upper case: the identity of a source column. */
export const columnKey = (t: CatalogTable, column: string) => `${tableKey(t)}.${column.toUpperCase()}`;

export interface TableReference {
  /** Span in the statement text of the table name and its alias. */
  start: number;
  end: number;
  table: CatalogTable;
  /** Text the rewrite puts after AS so qualified column references still bind. */
  aliasText: string;
}
export interface CteReference { start: number; end: number; name: string }
export interface OutputColumn { name: string; sources: string[]; transform: 'identity' | 'transform' }

export interface StatementFacts extends Classification {
  parsed: boolean;
  tables: TableReference[];
  cteReferences: CteReference[];
  output: OutputColumn[];
  /** Source columns used anywhere. */
  columns: string[];
  /** Source columns used in WHERE, JOIN, GROUP BY, HAVING, QUALIFY, ORDER BY and window specs. */
  predicateColumns: string[];
}

// ---------------------------------------------------------------------------------------
// Scopes

interface Col { name: string; key: string; sources: Set<string>; identity: boolean }
interface Rel { name: string; columns: Col[] }
interface Cte { name: string; columns: Col[] | null /* null while a recursive CTE is being bound */ }
interface Scope {
  rels: Rel[];
  parent: Scope | null;
  ctes: Map<string, Cte>;
  usingCols: Map<string, Col>;
  /** Output aliases visible to ORDER BY, GROUP BY, HAVING, QUALIFY and later select items. */
  aliases: Map<string, Col> | null;
}

interface Ctx { predicate: boolean; scope: Scope; inAggregate?: boolean }

const upper = (s: string) => s.toUpperCase();

class Binder {
  readonly tables: TableReference[] = [];
  readonly cteRefs: CteReference[] = [];
  readonly columns = new Set<string>();
  readonly predicate = new Set<string>();

  constructor(private readonly sql: string, private readonly catalog: Catalog) {}

  // ----- queries ------------------------------------------------------------------------

  /** Bind a query expression (select, set operation, with-clause); returns its output columns. */
  query(node: any, parent: Scope | null, ctes: Map<string, Cte>): Col[] {
    if (!node || node.type !== 'select') throw new Unanalysable(`a ${node?.type ?? 'missing'} statement inside a query`);
    const localCtes = new Map(ctes);
    if (node.with) this.withClause(node.with, parent, localCtes);
    let out = this.select(node, parent, localCtes);
    let arm = node;
    while (arm._next) {
      const op = String(arm.set_op ?? '').toUpperCase();
      if (!['UNION', 'UNION ALL', 'UNION DISTINCT'].includes(op)) throw new Unanalysable(`set operation ${op || '(unknown)'}`);
      const next = this.select(arm._next, parent, localCtes, true);
      if (next.length !== out.length) throw new Unanalysable('set operation arms with different column counts');
      out = out.map((c, i) => merge(c.name, [c, next[i]!]));
      arm = arm._next;
    }
    // ORDER BY / LIMIT after a set operation apply to its output.
    const outScope: Scope = { rels: [{ name: '', columns: out }], parent, ctes: localCtes, usingCols: new Map(), aliases: null };
    for (const k of ['_orderby', '_limit']) {
      const v = node[k];
      if (!v) continue;
      if (k === '_orderby') for (const o of v) this.expr(o.expr, { predicate: true, scope: outScope });
      else this.limit(v);
    }
    return out;
  }

  private withClause(items: any[], parent: Scope | null, ctes: Map<string, Cte>): void {
    // RECURSIVE belongs to the whole WITH clause, though the grammar marks only the first item.
    const recursive = items.some((i) => i.recursive);
    for (const item of items) {
      checkKeys(item, ['name', 'stmt', 'columns', 'loc', 'recursive'], 'WITH item');
      const name = upper(identValue(item.name));
      const ast = item.stmt?.ast;
      if (!ast) throw new Unanalysable('a WITH item that is not a query');
      const columnNames: string[] | null = item.columns ? item.columns.map((c: any) => columnName(c)) : null;
      const cte: Cte = { name, columns: null };
      if (recursive) {
        // The anchor (first arm) fixes the columns; the recursive arm then binds against them.
        // The anchor is bound twice, so what the first pass records is forgotten.
        const anchor = { ...ast, _next: undefined, set_op: undefined };
        const mark = { tables: this.tables.length, ctes: this.cteRefs.length };
        const anchorCols = this.select(anchor, parent, ctes, true);
        this.tables.length = mark.tables;
        this.cteRefs.length = mark.ctes;
        cte.columns = rename(anchorCols, columnNames);
        ctes.set(name, cte);
        const all = this.query(ast, parent, ctes);
        cte.columns = rename(all, columnNames);
      } else {
        const cols = this.query(ast, parent, ctes);
        cte.columns = rename(cols, columnNames);
        ctes.set(name, cte);
      }
    }
  }

  private select(node: any, parent: Scope | null, ctes: Map<string, Cte>, armOfSetOp = false): Col[] {
    checkKeys(node, ['with', 'type', 'options', 'distinct', 'columns', 'into', 'from', 'where', 'groupby', 'having',
      'qualify', 'orderby', 'top', 'limit', 'window', 'loc', '_next', 'set_op', '_orderby', '_limit',
      'parentheses_symbol', 'parentheses'], 'SELECT');
    if (node.with && armOfSetOp) throw new Unanalysable('WITH inside a set operation arm');
    if (node.options) throw new Unanalysable('SELECT options');
    if (node.into && node.into.position) throw new Unanalysable('SELECT INTO');
    if (node.top) throw new Unanalysable('SELECT TOP');
    if (node.window) throw new Unanalysable('a named WINDOW clause');
    const d = node.distinct?.type;
    if (d && upper(d) !== 'DISTINCT') throw new Unanalysable(`SELECT ${d}`);
    const scope: Scope = { rels: [], parent, ctes, usingCols: new Map(), aliases: null };
    for (const item of node.from ?? []) this.fromItem(item, scope);
    if (node.where) this.expr(node.where, { predicate: true, scope });
    const out = this.selectList(node.columns, scope);
    scope.aliases = new Map(out.map((c) => [c.key, c]));
    for (const g of groupByItems(node.groupby)) this.expr(g, { predicate: true, scope });
    if (node.having) this.expr(node.having, { predicate: true, scope });
    if (node.qualify) this.expr(node.qualify, { predicate: true, scope });
    for (const o of node.orderby ?? []) {
      checkKeys(o, ['expr', 'type', 'nulls'], 'ORDER BY item');
      this.expr(o.expr, { predicate: true, scope });
    }
    if (node.limit) this.limit(node.limit);
    return out;
  }

  private limit(limit: any): void {
    checkKeys(limit, ['seperator', 'value', 'loc'], 'LIMIT');
    for (const v of limit.value ?? []) if (v?.type !== 'number') throw new Unanalysable('a LIMIT that is not a number');
  }

  private fromItem(item: any, scope: Scope): void {
    const isJoin = !!item.join;
    if (isJoin) {
      const j = upper(String(item.join));
      if (!['INNER JOIN', 'JOIN', 'LEFT JOIN', 'LEFT OUTER JOIN', 'RIGHT JOIN', 'RIGHT OUTER JOIN', 'FULL JOIN',
        'FULL OUTER JOIN', 'CROSS JOIN'].includes(j)) throw new Unanalysable(`${j}`);
    }
    let rel: Rel;
    if (typeof item.table === 'string') {
      checkKeys(item, ['db', 'table', 'catalog', 'schema', 'surround', 'as', 'loc', 'operator', 'join', 'on', 'using'], 'table reference');
      if (item.operator) throw new Unanalysable('a table operator');
      rel = this.tableRef(item, scope);
    } else if (item.expr?.ast) {
      checkKeys(item, ['prefix', 'expr', 'as', 'loc', 'operator', 'join', 'on', 'using'], 'derived table');
      const lateral = item.prefix && upper(item.prefix) === 'LATERAL';
      if (item.prefix && !lateral) throw new Unanalysable(`${item.prefix} before a derived table`);
      if (typeof item.as === 'string' && item.as.includes('(')) throw new Unanalysable('derived-table column aliases');
      // A LATERAL subquery sees the relations before it; a plain one only the outer query's.
      const cols = this.query(item.expr.ast, lateral ? scope : scope.parent, scope.ctes);
      rel = { name: item.as ? upper(item.as) : '', columns: cols.map((c) => ({ ...c, sources: new Set(c.sources) })) };
    } else {
      throw new Unanalysable(describeFromItem(item));
    }
    if (isJoin && item.using) {
      for (const u of item.using) {
        const name = upper(columnName(u));
        const left = this.resolveUnqualified(name, { ...scope, parent: null }, false);
        const right = rel.columns.find((c) => c.key === name);
        if (!left || !right) throw new Unanalysable(`USING column ${name} that is not on both sides of the join`);
        scope.usingCols.set(name, merge(name, [left, right]));
      }
    }
    scope.rels.push(rel);
    if (isJoin && item.on) this.expr(item.on, { predicate: true, scope });
  }

  private tableRef(item: any, scope: Scope): Rel {
    const loc = item.loc;
    if (!loc) throw new Unanalysable('a table reference without a position');
    const ref = readTableReference(this.sql, loc.start.offset, loc.end.offset);
    // The lexer's reading of the text must agree with the parser's tree.
    if (upper(ref.parts[ref.parts.length - 1]!.value) !== upper(String(item.table))) {
      throw new Unanalysable('a table reference the parser and the lexer read differently');
    }
    const alias = ref.alias ? upper(ref.alias.value) : null;
    if ((alias ?? null) !== (item.as ? upper(String(item.as)) : null)) {
      throw new Unanalysable('a table alias the parser and the lexer read differently');
    }
    const nameKey = upper(ref.parts[ref.parts.length - 1]!.value);
    if (ref.parts.length === 1) {
      const cte = scope.ctes.get(nameKey);
      if (cte) {
        if (!cte.columns) throw new Unanalysable(`recursive reference to ${nameKey} outside its recursive arm`);
        this.cteRefs.push({ start: ref.nameStart, end: ref.nameEnd, name: nameKey });
        return { name: alias ?? nameKey, columns: cte.columns.map((c) => ({ ...c })) };
      }
    }
    const [database, schema, table] = ref.parts.length === 3
      ? ref.parts.map((p) => p.value)
      : ref.parts.length === 2 ? [undefined, ref.parts[0]!.value, ref.parts[1]!.value] : [undefined, undefined, ref.parts[0]!.value];
    const found = this.catalog.find({ database, schema, table: table! });
    const written = ref.parts.map((p) => p.value).join('.');
    if (!found) throw new UnknownTable(upper(written));
    this.tables.push({ start: loc.start.offset, end: ref.end, table: found, aliasText: ref.alias ? ref.alias.text : ref.parts[ref.parts.length - 1]!.text });
    return {
      name: alias ?? nameKey,
      columns: found.columns.map((c) => ({ name: c.name, key: upper(c.name), sources: new Set([columnKey(found, c.name)]), identity: true })),
    };
  }

  private selectList(columns: any, scope: Scope): Col[] {
    if (!Array.isArray(columns)) throw new Unanalysable('a select list');
    const out: Col[] = [];
    // Later select items may name earlier aliases (lateral column aliases).
    scope.aliases = new Map();
    columns.forEach((item: any, i: number) => {
      const e = item.expr;
      if (e?.type === 'column_ref' && e.column === '*') {
        out.push(...this.star(e, scope));
        return;
      }
      checkKeys(item, ['type', 'expr', 'as', 'loc'], 'select item');
      const lin = this.expr(e, { predicate: false, scope });
      // An unnamed expression is named by its text as the agent wrote it, as Snowflake does;
      // never by the engine, whose name would be the rewritten text (masks, hash prefixes).
      const name = item.as ? String(item.as) : bareColumnName(e) ?? this.textOf(item.loc) ?? `EXPR${i + 1}`;
      const col: Col = { name, key: upper(name), sources: lin.sources, identity: lin.identity };
      out.push(col);
      if (!scope.aliases!.has(col.key)) scope.aliases!.set(col.key, col);
    });
    return out;
  }

  private textOf(loc: any): string | null {
    if (!loc) return null;
    const text = this.sql.slice(loc.start.offset, loc.end.offset).trim().replace(/\s+/g, ' ');
    return text ? text.slice(0, 256) : null;
  }

  private star(e: any, scope: Scope): Col[] {
    checkKeys(e, ['type', 'table', 'schema', 'column', 'suffix', 'loc', 'notations'], 'star');
    if (e.schema) throw new Unanalysable('a schema-qualified star');
    let cols: Col[];
    if (e.table) {
      const rel = findRel(scope, upper(String(e.table)));
      if (!rel) throw new Unanalysable(`${e.table}.* names no table in scope`);
      cols = rel.columns;
    } else {
      if (scope.rels.length === 0) throw new Unanalysable('SELECT * without FROM');
      // A USING column appears once, before the others.
      cols = [...scope.usingCols.values()];
      for (const rel of scope.rels) for (const c of rel.columns) if (!scope.usingCols.has(c.key)) cols.push(c);
    }
    if (e.suffix) {
      const fn = e.suffix;
      const name = fn?.type === 'function' ? upper(identValue(fn.name?.name?.[0])) : '';
      if (name !== 'EXCLUDE') throw new Unanalysable(`* ${name || 'modifier'}`);
      const drop = new Set<string>((fn.args?.value ?? []).map((c: any) => upper(columnName(c))));
      for (const d of drop) if (!cols.some((c) => c.key === d)) throw new Unanalysable(`EXCLUDE names ${d}, which is not a column here`);
      cols = cols.filter((c) => !drop.has(c.key));
    }
    for (const c of cols) this.use(c, false);
    return cols.map((c) => ({ ...c }));
  }

  // ----- expressions --------------------------------------------------------------------

  /** Bind an expression; returns its lineage. */
  expr(e: any, ctx: Ctx): { sources: Set<string>; identity: boolean } {
    const none = () => ({ sources: new Set<string>(), identity: false });
    if (e == null) return none();
    if (e.ast) return this.subquery(e, ctx);
    switch (e.type) {
      case 'number': case 'single_quote_string': case 'string': case 'bool': case 'null':
      case 'date': case 'time': case 'timestamp': case 'datetime': case 'natural_string':
        return none();
      case 'star':
        return none();
      case 'double_quote_string':
        // Snowflake and DuckDB both read "x" as a quoted identifier, whatever the grammar says.
        return this.columnRef(null, e.value, ctx);
      case 'column_ref': {
        checkKeys(e, ['type', 'table', 'column', 'collate', 'loc', 'notations', 'schema', 'db', 'suffix'], 'column reference');
        if (e.schema || e.db) throw new Unanalysable('a semi-structured path or schema-qualified column');
        if (e.notations && e.notations.some((n: string) => n !== '.')) throw new Unanalysable(`the ${e.notations.join('')} path operator`);
        if (e.collate) throw new Unanalysable('COLLATE');
        if (e.column === '*') throw new Unanalysable('* outside the select list');
        return this.columnRef(e.table ? String(e.table) : null, columnName(e), ctx);
      }
      case 'binary_expr': {
        checkKeys(e, ['type', 'operator', 'left', 'right', 'loc', 'parentheses', 'escape'], 'operator');
        const l = this.expr(e.left, ctx);
        const r = this.expr(e.right, ctx);
        if (e.escape) this.expr(e.escape.value ?? e.escape, ctx);
        return { sources: union(l.sources, r.sources), identity: false };
      }
      case 'unary_expr': {
        checkKeys(e, ['type', 'operator', 'expr', 'loc', 'parentheses'], 'unary operator');
        return { ...this.expr(e.expr, ctx), identity: false };
      }
      case 'expr_list': {
        const acc = new Set<string>();
        for (const v of e.value ?? []) for (const s of this.expr(v, ctx).sources) acc.add(s);
        return { sources: acc, identity: false };
      }
      case 'cast': {
        checkKeys(e, ['type', 'keyword', 'expr', 'symbol', 'target', 'loc', 'parentheses'], 'cast');
        for (const t of e.target ?? []) if (t.expr) throw new Unanalysable('a cast with an expression target');
        return { ...this.expr(e.expr, ctx), identity: false };
      }
      case 'case': {
        checkKeys(e, ['type', 'expr', 'args', 'loc', 'parentheses'], 'CASE');
        const acc = new Set<string>(this.expr(e.expr, ctx).sources);
        for (const a of e.args ?? []) {
          if (a.type === 'when') for (const s of this.expr(a.cond, ctx).sources) acc.add(s);
          else if (a.type !== 'else') throw new Unanalysable('a CASE branch');
          for (const s of this.expr(a.result, ctx).sources) acc.add(s);
        }
        return { sources: acc, identity: false };
      }
      case 'interval':
        return { ...this.expr(e.expr, ctx), identity: false };
      case 'extract': {
        const src = e.args?.source;
        if (!src || e.args.cast_type) throw new Unanalysable('EXTRACT');
        return { ...this.expr(src, ctx), identity: false };
      }
      case 'function': return this.func(e, ctx);
      case 'aggr_func': return this.aggregate(e, ctx);
      case 'window_func': return this.windowFunc(e, ctx);
      default:
        throw new Unanalysable(`expression of type ${String(e.type)}`);
    }
  }

  private subquery(e: any, ctx: Ctx) {
    const cols = this.query(e.ast, ctx.scope, ctx.scope.ctes);
    const acc = new Set<string>();
    for (const c of cols) for (const s of c.sources) acc.add(s);
    return { sources: acc, identity: false };
  }

  private func(e: any, ctx: Ctx) {
    checkKeys(e, ['type', 'name', 'args', 'over', 'loc', 'parentheses', 'suffix', 'args_parentheses'], 'function call');
    const parts = e.name?.name ?? [];
    if (parts.length !== 1) throw new Unanalysable('a qualified function name');
    const name = upper(identValue(parts[0]));
    const acc = new Set<string>();
    if (name === 'EXISTS') {
      for (const a of e.args?.value ?? []) this.expr(a, ctx);
      return { sources: acc, identity: false };
    }
    if (!isKnownFunction(name)) throw new Unanalysable(`function ${name}`);
    if (e.suffix) throw new Unanalysable(`${name} with a suffix`);
    (e.args?.value ?? []).forEach((a: any, i: number) => {
      // DATE_PART(YEAR, d): the grammar reads the unit as a column reference; it is a keyword.
      if (i === 0 && DATE_UNIT_FUNCTIONS.has(name) && isDateUnit(a)) return;
      for (const s of this.expr(a, ctx).sources) acc.add(s);
    });
    if (e.over) this.over(e.over, ctx);
    return { sources: acc, identity: false };
  }

  private aggregate(e: any, ctx: Ctx) {
    checkKeys(e, ['type', 'name', 'args', 'over', 'loc', 'filter', 'within_group_orderby'], 'aggregate');
    const name = upper(String(e.name));
    if (!AGGREGATE_FUNCTIONS.has(name)) throw new Unanalysable(`aggregate ${name}`);
    const args = e.args ?? {};
    checkKeys(args, ['expr', 'distinct', 'orderby', 'separator', 'parentheses'], `${name} arguments`);
    const acc = new Set<string>(this.expr(args.expr, { ...ctx, inAggregate: true }).sources);
    if (args.separator) this.expr(args.separator.value ?? args.separator, ctx);
    for (const o of args.orderby ?? []) this.expr(o.expr, { ...ctx, predicate: true });
    if (e.filter) throw new Unanalysable('FILTER on an aggregate');
    if (e.within_group_orderby) throw new Unanalysable('WITHIN GROUP');
    if (e.over) this.over(e.over, ctx);
    return { sources: acc, identity: false };
  }

  private windowFunc(e: any, ctx: Ctx) {
    checkKeys(e, ['type', 'name', 'over', 'args', 'loc', 'consider_nulls'], 'window function');
    const name = upper(String(e.name));
    if (!WINDOW_FUNCTIONS.has(name)) throw new Unanalysable(`window function ${name}`);
    const acc = new Set<string>();
    for (const a of e.args?.value ?? []) for (const s of this.expr(a, ctx).sources) acc.add(s);
    this.over(e.over, ctx);
    return { sources: acc, identity: false };
  }

  private over(over: any, ctx: Ctx): void {
    if (!over) return;
    const spec = over.as_window_specification?.window_specification;
    if (!spec || typeof spec !== 'object') throw new Unanalysable('a window reference');
    checkKeys(spec, ['name', 'partitionby', 'orderby', 'window_frame_clause'], 'window specification');
    if (spec.name) throw new Unanalysable('a named window');
    const p = { ...ctx, predicate: true };
    for (const x of spec.partitionby ?? []) this.expr(x.expr ?? x, p);
    for (const x of spec.orderby ?? []) this.expr(x.expr, p);
    const frame = spec.window_frame_clause;
    if (frame && typeof frame !== 'object') throw new Unanalysable('a window frame');
  }

  // ----- names --------------------------------------------------------------------------

  private columnRef(qualifier: string | null, name: string, ctx: Ctx) {
    const key = upper(name);
    let col: Col | undefined;
    if (qualifier) {
      const rel = findRel(ctx.scope, upper(qualifier));
      if (!rel) throw new Unanalysable(`qualifier ${upper(qualifier)} names no table in scope`);
      const matches = rel.columns.filter((c) => c.key === key);
      if (matches.length !== 1) throw new Unanalysable(`column ${upper(qualifier)}.${key} does not bind`);
      col = matches[0];
    } else {
      col = this.resolveUnqualified(key, ctx.scope, true);
      if (!col) throw new Unanalysable(`column ${key} does not bind to any table in scope`);
    }
    this.use(col!, ctx.predicate);
    return { sources: new Set(col!.sources), identity: col!.identity };
  }

  /** Innermost scope first; within a scope exactly one relation may have the name. */
  resolveUnqualified(key: string, scope: Scope, useAliases: boolean): Col | undefined {
    for (let s: Scope | null = scope; s; s = s.parent) {
      const merged = s.usingCols.get(key);
      if (merged) return merged;
      const hits = s.rels.flatMap((r) => r.columns.filter((c) => c.key === key));
      if (hits.length > 1) throw new Unanalysable(`column ${key} is ambiguous`);
      if (hits.length === 1) return hits[0];
      if (useAliases && s.aliases?.has(key)) return s.aliases.get(key);
    }
    return undefined;
  }

  private use(col: Col, predicate: boolean): void {
    for (const s of col.sources) {
      this.columns.add(s);
      if (predicate) this.predicate.add(s);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

const DATE_UNIT_FUNCTIONS = new Set(['DATE_PART', 'DATEADD', 'DATEDIFF', 'DATE_TRUNC', 'DATE_DIFF', 'DATE_ADD']);
const DATE_UNITS = new Set(['YEAR', 'YEARS', 'QUARTER', 'MONTH', 'MONTHS', 'WEEK', 'DAY', 'DAYS', 'DAYOFWEEK', 'DAYOFYEAR',
  'HOUR', 'HOURS', 'MINUTE', 'MINUTES', 'SECOND', 'SECONDS', 'MILLISECOND', 'MICROSECOND', 'EPOCH']);
const isDateUnit = (a: any) => a?.type === 'column_ref' && !a.table && typeof a.column === 'string' && DATE_UNITS.has(upper(a.column));

function checkKeys(node: any, allowed: string[], what: string): void {
  for (const [k, v] of Object.entries(node)) {
    if (allowed.includes(k)) continue;
    if (v == null || (Array.isArray(v) && v.length === 0)) continue;
    throw new Unanalysable(`${what} with ${k}`);
  }
}

function identValue(x: any): string {
  if (typeof x === 'string') return x;
  if (x && typeof x.value === 'string') return x.value;
  throw new Unanalysable('an identifier');
}

function columnName(c: any): string {
  if (typeof c === 'string') return c;
  if (c?.type === 'column_ref') return columnName(c.column);
  if (c?.expr) return identValue(c.expr);
  return identValue(c);
}

function bareColumnName(e: any): string | null {
  if (e?.type === 'column_ref' && e.column !== '*') return columnName(e);
  if (e?.type === 'double_quote_string') return e.value;
  return null;
}

function groupByItems(g: any): any[] {
  if (!g) return [];
  if (Array.isArray(g)) return g;
  if (Array.isArray(g.columns)) {
    if (g.modifiers && g.modifiers.some((m: any) => m)) throw new Unanalysable('GROUP BY modifiers');
    return g.columns;
  }
  throw new Unanalysable('GROUP BY');
}

function findRel(scope: Scope, name: string): Rel | undefined {
  for (let s: Scope | null = scope; s; s = s.parent) {
    const hits = s.rels.filter((r) => r.name === name);
    if (hits.length > 1) throw new Unanalysable(`table name ${name} is ambiguous`);
    if (hits.length === 1) return hits[0];
  }
  return undefined;
}

function merge(name: string, cols: Col[]): Col {
  const sources = new Set<string>();
  for (const c of cols) for (const s of c.sources) sources.add(s);
  return { name, key: upper(name), sources, identity: cols.every((c) => c.identity) };
}

function rename(cols: Col[], names: string[] | null): Col[] {
  if (!names) return cols;
  if (names.length !== cols.length) throw new Unanalysable('a WITH column list of the wrong length');
  return cols.map((c, i) => ({ ...c, name: names[i]!, key: upper(names[i]!) }));
}

function union(a: Set<string>, b: Set<string>): Set<string> {
  const out = new Set(a);
  for (const x of b) out.add(x);
  return out;
}

function describeFromItem(item: any): string {
  const fn = item?.expr?.name?.name?.[0];
  if (fn) return `table function ${upper(identValue(fn))}`;
  if (item?.expr?.type === 'values' || item?.type === 'values') return 'VALUES in FROM';
  return `a FROM item of type ${String(item?.expr?.type ?? item?.type ?? 'unknown')}`;
}

// ---------------------------------------------------------------------------------------
// Entry point

/** Parse with the snowflake grammar. Returns null when the text does not parse. */
export function parse(sql: string): any[] | null {
  try {
    const ast = parser.astify(sql, PARSE_OPTIONS as any);
    return Array.isArray(ast) ? ast : [ast];
  } catch {
    return null;
  }
}

/**
 * Facts about one request's SQL. Throws Unanalysable or UnknownTable for a SELECT whose names
 * do not all bind; statements of other kinds are classified but not bound (they never run).
 */
export function analyse(sql: string, catalog: Catalog): StatementFacts {
  const cls = classify(sql);
  const base: StatementFacts = { ...cls, parsed: false, tables: [], cteReferences: [], output: [], columns: [], predicateColumns: [] };
  if (cls.kind === 'MULTI' || cls.classes.includes('unparsed')) return base;
  const asts = parse(sql);
  if (!asts) return base;
  const statements = asts.filter((a) => a && Object.keys(a).length > 0);
  if (statements.length !== 1) return { ...base, kind: 'MULTI', classes: [...new Set([...base.classes, 'multi_statement' as const])] };
  const ast = statements[0];
  const kind = kindFromAst(ast, cls.kind);
  if (kind !== 'SELECT') return { ...base, kind, parsed: true };
  const binder = new Binder(sql, catalog);
  const out = binder.query(ast, null, new Map());
  return {
    ...base,
    kind,
    parsed: true,
    tables: binder.tables.sort((a, b) => a.start - b.start),
    cteReferences: binder.cteRefs.sort((a, b) => a.start - b.start),
    output: out.map((c) => ({ name: c.name, sources: [...c.sources].sort(), transform: c.identity ? 'identity' : 'transform' })),
    columns: [...binder.columns].sort(),
    predicateColumns: [...binder.predicate].sort(),
  };
}

/** The parser's statement type must agree with the keyword classification. */
function kindFromAst(ast: any, lexed: StatementKind): StatementKind {
  const t = upper(String(ast?.type ?? ''));
  const map: Record<string, StatementKind> = {
    SELECT: 'SELECT', INSERT: 'INSERT', REPLACE: 'INSERT', UPDATE: 'UPDATE', DELETE: 'DELETE', CREATE: 'CREATE',
    ALTER: 'ALTER', DROP: 'DROP', TRUNCATE: 'TRUNCATE', GRANT: 'GRANT', SET: 'SET', USE: 'USE', SHOW: 'SHOW',
    DESC: 'DESCRIBE', CALL: 'CALL', EXPLAIN: 'EXPLAIN',
  };
  const k = map[t] ?? 'OTHER';
  if (k !== lexed) throw new Unanalysable(`a statement the parser reads as ${k} but that starts like ${lexed}`);
  return k;
}
