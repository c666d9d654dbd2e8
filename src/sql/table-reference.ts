// Reads the text of a table reference at the span the parser reported, with our own lexer.
// The parser's tree is not trusted alone: node-sql-parser drops the schema of three-part
// names, so the identifiers the rewrite and the catalog use come from the text itself.
import { lex, significant, LexError, type Token } from './lexer.ts';
import { Unanalysable } from './analyse.ts';

export interface TableReferenceText {
  /** One to three identifier tokens: [database.][schema.]table */
  parts: Token[];
  alias: Token | null;
  nameStart: number;
  nameEnd: number;
  /** End of the last meaningful token (the parser's span may include trailing space). */
  end: number;
}

const isName = (t: Token | undefined) => !!t && (t.type === 'ident' || t.type === 'quoted');

export function readTableReference(sql: string, start: number, end: number): TableReferenceText {
  let tokens: Token[];
  try {
    tokens = lex(sql.slice(start, end)).map((t) => ({ ...t, start: t.start + start, end: t.end + start }));
  } catch (e) {
    if (e instanceof LexError) throw new Unanalysable('a table reference the lexer cannot read');
    throw e;
  }
  // Comments may sit anywhere in the span; only the meaningful tokens are read, and the span the
  // rewrite replaces ends at the last of them.
  const sig = significant(tokens);
  const parts: Token[] = [];
  let i = 0;
  if (!isName(sig[0])) throw new Unanalysable('a table reference that does not start with a name');
  parts.push(sig[i++]!);
  while (sig[i]?.type === 'symbol' && sig[i]!.text === '.' && isName(sig[i + 1])) {
    parts.push(sig[i + 1]!);
    i += 2;
  }
  if (parts.length > 3) throw new Unanalysable('a table name with more than three parts');
  const nameEnd = parts[parts.length - 1]!.end;
  let alias: Token | null = null;
  if (sig[i]?.type === 'ident' && sig[i]!.text.toUpperCase() === 'AS') i++;
  if (isName(sig[i])) alias = sig[i++]!;
  if (i !== sig.length) throw new Unanalysable('a table reference with text the analyser does not recognise');
  const last = sig[sig.length - 1]!;
  return { parts, alias, nameStart: parts[0]!.start, nameEnd, end: last.end };
}
