// Snowflake functions DuckDB lacks, as DuckDB macros, so an agent's Snowflake SQL runs on the
// embedded warehouse too. Each macro only computes on its arguments (the analyser has already
// accepted the function by its Snowflake name), and each statement's connection defines just
// the ones its text calls: temporary macros live and die with that connection, and a statement
// that calls none pays nothing. Only the argument counts written here exist; a call with
// another (TO_DATE with a format, say) fails with DuckDB's "no macro matches" error.

/** Snowflake name → the body(ies) of CREATE TEMP MACRO, one per argument count. */
const MACROS: Record<string, string> = {
  iff: '(c, a, b) AS CASE WHEN c THEN a ELSE b END',
  nvl: '(a, b) AS COALESCE(a, b)',
  nvl2: '(a, b, c) AS CASE WHEN a IS NOT NULL THEN b ELSE c END',
  zeroifnull: '(a) AS COALESCE(a, 0)',
  nullifzero: '(a) AS NULLIF(a, 0)',
  // Snowflake's REGEXP_LIKE matches the whole subject (as if anchored at both ends).
  // Its parameters (i, m, s; c is the default, e concerns sub-matches) become RE2 inline flags:
  // DuckDB takes options only as a constant, which a macro argument is not.
  regexp_like: "(s, p) AS regexp_full_match(s, p), "
    + "(s, p, f) AS regexp_full_match(s, CASE WHEN regexp_replace(f, '[^ims]', '', 'g') = '' THEN p ELSE '(?' || regexp_replace(f, '[^ims]', '', 'g') || ')' || p END)",
  // Snowflake answers NULL, not '', when nothing matches.
  regexp_substr: "(s, p) AS NULLIF(regexp_extract(s, p), '')",
  to_date: '(a) AS CAST(a AS DATE)',
  try_to_date: '(a) AS TRY_CAST(a AS DATE)',
  // Snowflake's default NUMBER(38, 0).
  to_number: '(a) AS CAST(a AS DECIMAL(38, 0))',
  try_to_number: '(a) AS TRY_CAST(a AS DECIMAL(38, 0))',
  to_varchar: '(a) AS CAST(a AS VARCHAR)',
  to_char: '(a) AS CAST(a AS VARCHAR)',
};

/** Argument counts each macro accepts, read off its definition (for the error below). */
const ARITIES = Object.fromEntries(Object.entries(MACROS).map(([n, body]) => [n, [...body.matchAll(/\(([^()]*)\) AS/g)].map((m) => m[1]!.split(',').length)]));

const CALL = new RegExp(`\\b(${Object.keys(MACROS).join('|')})\\s*\\(`, 'gi');

/**
 * The CREATE TEMP MACRO statements for the compatibility functions `sql` calls, or undefined.
 * A name that only looks like a call (inside a string literal) costs a needless definition,
 * never a wrong result: a macro is used only where the statement calls it.
 */
export function compatMacrosFor(sql: string): string | undefined {
  const used = new Set([...sql.matchAll(CALL)].map((m) => m[1]!.toLowerCase()));
  if (used.size === 0) return undefined;
  return [...used].sort().map((n) => `CREATE TEMP MACRO ${n}${MACROS[n]};`).join('\n');
}

/**
 * DuckDB's error for a compatibility function called with arguments its macro does not take
 * ("Macro to_date() does not support the supplied arguments"), said in Snowflake's terms; any
 * other message is returned unchanged.
 */
export function explainCompatError(message: string): string {
  const m = /Macro (\w+)\(\) does not support the supplied arguments/i.exec(message);
  const arities = m && ARITIES[m[1]!.toLowerCase()];
  if (!arities) return message;
  const n = arities.join(' or ');
  return `${m[1]!.toUpperCase()} takes ${n} argument${arities.length === 1 && arities[0] === 1 ? '' : 's'} on phigate's embedded warehouse (no format models); cast instead, e.g. CAST(x AS DATE)`;
}
