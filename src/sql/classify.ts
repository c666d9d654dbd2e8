// Statement kind and guardrail class from leading keywords. Used for every statement,
// parsed or not, so a statement the grammar rejects is still named correctly in the
// denial and the audit record.
import type { GuardrailClass, StatementKind } from '../api/types.ts';
import { lex, splitStatements, LexError, type Token } from './lexer.ts';

export interface Classification {
  kind: StatementKind;
  /** Guardrail classes the statement falls into (before any deeper analysis). */
  classes: GuardrailClass[];
  statementCount: number;
}

const word = (t: Token | undefined) => (t && (t.type === 'ident') ? t.text.toUpperCase() : '');

function kindOf(all: Token[]): StatementKind {
  // `(SELECT ...) UNION (SELECT ...)`: parentheses before the first keyword change nothing.
  let i = 0;
  while (all[i]?.type === 'symbol' && all[i]!.text === '(') i++;
  const tokens = all.slice(i);
  const first = word(tokens[0]);
  const second = word(tokens[1]);
  switch (first) {
    case 'SELECT': case 'WITH': case 'VALUES': case 'FROM': case 'TABLE': return 'SELECT';
    case 'INSERT': case 'UPDATE': case 'DELETE': case 'MERGE': case 'TRUNCATE':
    case 'CREATE': case 'DROP': case 'GRANT': case 'REVOKE': case 'COPY': case 'SET':
    case 'USE': case 'CALL': case 'EXPLAIN': case 'SHOW': case 'PUT': case 'GET': case 'UNSET':
      return (first === 'UNSET' ? 'SET' : first) as StatementKind;
    case 'ALTER': return second === 'SESSION' ? 'SET' : 'ALTER';
    case 'DESCRIBE': case 'DESC': return 'DESCRIBE';
    case 'UNDROP': case 'COMMENT': case 'RENAME': return 'ALTER';
    case 'REPLACE': case 'UPSERT': return 'INSERT';
    default: return 'OTHER';
  }
}

/** Guardrail classes implied by the kind and the leading words. */
function classesOf(kind: StatementKind, tokens: Token[]): GuardrailClass[] {
  const words = tokens.slice(0, 64).map(word);
  const has = (w: string) => words.includes(w);
  const out = new Set<GuardrailClass>();
  switch (kind) {
    case 'CREATE': case 'ALTER': case 'DROP': case 'TRUNCATE': out.add('ddl'); break;
    case 'INSERT': case 'UPDATE': case 'DELETE': case 'MERGE': out.add('dml'); break;
    case 'GRANT': case 'REVOKE': out.add('grant'); break;
    case 'COPY': case 'PUT': case 'GET': out.add('copy_into'); break;
    case 'SET': case 'USE': out.add('session_change'); break;
    default: break;
  }
  if (kind === 'TRUNCATE') out.add('dml');
  if ((kind === 'UPDATE' || kind === 'DELETE') && !has('WHERE')) out.add('dml_without_where');
  const first = words[0] ?? '';
  if (['ATTACH', 'DETACH', 'INSTALL', 'LOAD', 'IMPORT', 'EXPORT', 'PRAGMA', 'CHECKPOINT'].includes(first)) {
    out.add('external_access');
  }
  return [...out];
}

export function classify(sql: string): Classification {
  let tokens: Token[];
  try {
    tokens = lex(sql);
  } catch (e) {
    if (e instanceof LexError) return { kind: 'OTHER', classes: ['unparsed'], statementCount: 1 };
    throw e;
  }
  const statements = splitStatements(tokens);
  if (statements.length > 1) {
    const classes = new Set<GuardrailClass>(['multi_statement']);
    for (const s of statements) for (const c of classesOf(kindOf(s), s)) classes.add(c);
    return { kind: 'MULTI', classes: [...classes], statementCount: statements.length };
  }
  const only = statements[0] ?? [];
  const kind = kindOf(only);
  return { kind, classes: classesOf(kind, only), statementCount: statements.length };
}
