// A small SQL lexer for what the grammar cannot tell us: the statement kind of text that
// does not parse, how many statements a request holds, and the exact identifiers of a table
// reference at the position the parser reported. It follows Snowflake's lexical rules, and
// flags the places where DuckDB reads the same text differently (backslashes in strings).

export type TokenType =
  | 'ident' | 'quoted' | 'string' | 'dollar' | 'number' | 'symbol' | 'comment' | 'space' | 'param';

export interface Token { type: TokenType; text: string; start: number; end: number; value: string }

export class LexError extends Error {
  constructor(message: string, readonly offset: number) { super(message); this.name = 'LexError'; }
}

const isIdentStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/** Tokenise `sql`. Unterminated strings, quoted identifiers and comments throw LexError. */
export function lex(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (type: TokenType, start: number, end: number, value?: string) =>
    out.push({ type, text: sql.slice(start, end), start, end, value: value ?? sql.slice(start, end) });
  while (i < n) {
    const c = sql[i]!;
    const start = i;
    if (/\s/.test(c)) {
      while (i < n && /\s/.test(sql[i]!)) i++;
      push('space', start, i);
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '/' && sql[i + 1] === '/')) {
      while (i < n && sql[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw new LexError('unterminated /* comment', start);
      i = close + 2;
      push('comment', start, i);
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new LexError('unterminated string literal', start);
        const d = sql[i]!;
        if (d === "'" && sql[i + 1] === "'") { v += "'"; i += 2; continue; }
        if (d === "'") { i++; break; }
        if (d === '\\') { v += sql.slice(i, i + 2); i += 2; continue; }
        v += d; i++;
      }
      push('string', start, i, v);
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new LexError('unterminated quoted identifier', start);
        const d = sql[i]!;
        if (d === '"' && sql[i + 1] === '"') { v += '"'; i += 2; continue; }
        if (d === '"') { i++; break; }
        v += d; i++;
      }
      push('quoted', start, i, v);
    } else if (c === '$' && sql[i + 1] === '$') {
      const close = sql.indexOf('$$', i + 2);
      if (close < 0) throw new LexError('unterminated $$ string', start);
      i = close + 2;
      push('dollar', start, i, sql.slice(start + 2, close));
    } else if (c === '$' && /[0-9A-Za-z_]/.test(sql[i + 1] ?? '')) {
      i++;
      while (i < n && /[0-9A-Za-z_]/.test(sql[i]!)) i++;
      push('param', start, i);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      while (i < n && /[0-9.eE]/.test(sql[i]!)) {
        if ((sql[i] === 'e' || sql[i] === 'E') && /[+-]/.test(sql[i + 1] ?? '')) i++;
        i++;
      }
      push('number', start, i);
    } else if (isIdentStart(c)) {
      while (i < n && isIdentPart(sql[i]!)) i++;
      push('ident', start, i);
    } else {
      const two = sql.slice(i, i + 2);
      i += ['::', '||', '<=', '>=', '<>', '!=', '=>', '->'].includes(two) ? 2 : 1;
      push('symbol', start, i);
    }
  }
  return out;
}

/** Tokens that carry meaning (no whitespace or comments). */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.type !== 'space' && t.type !== 'comment');
}

/** Split into statements on top-level semicolons; empty statements are dropped. */
export function splitStatements(tokens: Token[]): Token[][] {
  const parts: Token[][] = [];
  let cur: Token[] = [];
  for (const t of significant(tokens)) {
    if (t.type === 'symbol' && t.text === ';') { if (cur.length) parts.push(cur); cur = []; continue; }
    cur.push(t);
  }
  if (cur.length) parts.push(cur);
  return parts;
}

/** True when some string literal holds a backslash: Snowflake reads it as an escape, DuckDB does not. */
export function hasBackslashInString(tokens: Token[]): boolean {
  return tokens.some((t) => t.type === 'string' && t.text.includes('\\'));
}

/** Identifier value as the engine resolves it: unquoted names are case-insensitive. */
export function identKey(t: Token): string {
  return t.type === 'quoted' ? t.value.toUpperCase() : t.text.toUpperCase();
}
