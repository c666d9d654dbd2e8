// DuckDB SQL text that phigate generates itself: quoted names, string literals and the mask
// expressions that go inside a masked projection. Nothing here runs SQL.
import { createHmac } from 'node:crypto';
import { ALL_DETECTORS, DETECTORS, inPrecedenceOrder } from '../masking/detectors.ts';
import type { DetectorName } from '../api/types.ts';
import type { CatalogColumn, MaskPlan, SnowflakeType } from './types.ts';
import { RESTRICTED_ZIP3 } from './hipaa.ts';

/** The C API takes statements as NUL-terminated strings: a NUL would silently cut the text. */
function refuseNul(s: string, what: string): void {
  if (s.includes('\0')) throw new Error(`${what} contains a NUL character`);
}

/** A DuckDB string literal. Standard SQL strings: backslashes are literal, quotes doubled. */
export function sqlString(value: string): string {
  refuseNul(value, 'string literal');
  return `'${value.replace(/'/g, "''")}'`;
}

/** A DuckDB quoted identifier (internal double quotes doubled). */
export function quoteIdent(name: string): string {
  refuseNul(name, 'identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/** What a NULL of a column's type is written as, when the catalog did not say its DuckDB type. */
const GENERIC_DUCKDB_TYPE: Record<SnowflakeType, string> = {
  fixed: 'DECIMAL(38,0)', real: 'DOUBLE', text: 'VARCHAR', date: 'DATE', time: 'TIME',
  timestamp_ntz: 'TIMESTAMP', timestamp_tz: 'TIMESTAMPTZ', timestamp_ltz: 'TIMESTAMPTZ',
  boolean: 'BOOLEAN', binary: 'BLOB', variant: 'JSON', object: 'JSON', array: 'JSON',
};

export const REDACTED = '[REDACTED]';
const DEFAULT_KEEP = 4;

/**
 * Prefixes derived from the hash key. The mask is sha256(outer || sha256(inner || value)),
 * the shape of HMAC: without the key, the output of a known value cannot be recomputed, so a
 * hashed SSN cannot be reversed by hashing all 10^9 SSNs. Only derived prefixes reach SQL text.
 */
export function hashPrefixes(key: string): { inner: string; outer: string } {
  if (key.length === 0) throw new Error('the hash strategy needs a non-empty key');
  const derive = (label: string) => createHmac('sha256', key).update(`phigate mask hash v1 ${label}`).digest('hex');
  return { inner: derive('inner'), outer: derive('outer') };
}

/**
 * DuckDB SQL replacing `columnSql` (already quoted) inside a masked projection.
 * `nativeType` is the column's DuckDB type when the catalog knows it, so NULLs keep the exact type.
 */
export function duckdbMaskExpression(plan: MaskPlan, columnSql: string, column: CatalogColumn, nativeType?: string): string {
  const col = columnSql;
  const typedNull = `CAST(NULL AS ${nativeType ?? GENERIC_DUCKDB_TYPE[column.type]})`;
  // Strategies that work on text apply to the text form of a non-text column.
  const asText = column.textual ? col : `CAST(${col} AS VARCHAR)`;

  switch (plan.strategy) {
    case 'redact':
      // A constant, even for NULLs: whether a value exists is itself information.
      return column.textual ? `CAST(${sqlString(REDACTED)} AS VARCHAR)` : typedNull;

    case 'null':
      return typedNull;

    case 'partial': {
      const keep = plan.keep ?? DEFAULT_KEEP;
      if (!Number.isSafeInteger(keep) || keep < 0) throw new Error('partial: keep must be a non-negative integer');
      // A value no longer than `keep` is starred out completely rather than shown whole.
      return `(CASE WHEN ${asText} IS NULL THEN NULL`
        + ` WHEN length(${asText}) <= ${keep} THEN repeat('*', length(${asText}))`
        + ` ELSE repeat('*', length(${asText}) - ${keep}) || right(${asText}, ${keep}) END)`;
    }

    case 'hash': {
      if (plan.hashKey === undefined) throw new Error('the hash strategy needs a key');
      const { inner, outer } = hashPrefixes(plan.hashKey);
      // NULL stays NULL: || and sha256 both propagate it.
      return `sha256(${sqlString(outer)} || sha256(${sqlString(inner)} || CAST(${col} AS VARCHAR)))`;
    }

    case 'year':
      switch (column.type) {
        // DATE_TRUNC on a DATE returns a TIMESTAMP in DuckDB 1.5: cast back to keep the type.
        case 'date': return `CAST(DATE_TRUNC('year', ${col}) AS DATE)`;
        case 'timestamp_ntz':
          return `CAST(DATE_TRUNC('year', ${col}) AS ${nativeType ?? GENERIC_DUCKDB_TYPE[column.type]})`;
        // Truncate the UTC wall clock, whatever the session's time zone.
        case 'timestamp_tz': case 'timestamp_ltz':
          return `timezone('UTC', DATE_TRUNC('year', timezone('UTC', ${col})))`;
        default: return typedNull;
      }

    case 'zip3': {
      // Numeric ZIPs lost their leading zeros; text ZIPs may carry spaces or a +4 suffix.
      const v = column.textual ? `trim(${col})` : column.type === 'fixed' ? `lpad(CAST(${col} AS VARCHAR), 5, '0')` : asText;
      const restricted = RESTRICTED_ZIP3.map(sqlString).join(', ');
      // Anything that does not start with three digits is not a ZIP we can generalise: zero it.
      return `(CASE WHEN ${v} IS NULL THEN NULL`
        + ` WHEN NOT regexp_matches(${v}, '^[0-9]{3}') THEN '00000'`
        + ` WHEN substr(${v}, 1, 3) IN (${restricted}) THEN '00000'`
        + ` ELSE substr(${v}, 1, 3) || '00' END)`;
    }

    case 'email_domain':
      if (!column.textual) return typedNull;
      return `(CASE WHEN ${col} IS NULL THEN NULL`
        + ` WHEN regexp_matches(${col}, '@[^@]+$') THEN '*@' || regexp_extract(${col}, '@([^@]+)$', 1)`
        + ` ELSE '*' END)`;

    case 'scrub': {
      const names: readonly DetectorName[] = plan.detectors ?? ALL_DETECTORS;
      for (const name of names) {
        if (!Object.hasOwn(DETECTORS, name)) throw new Error(`scrub: unknown detector ${JSON.stringify(name)}`);
      }
      // Nested in precedence order (first = innermost), as the result scan applies them, so a
      // span an earlier detector claimed is already a token when later ones run.
      let expr = asText;
      for (const name of inPrecedenceOrder(names)) {
        const d = DETECTORS[name];
        expr = `regexp_replace(${expr}, ${sqlString(d.sqlPattern)}, ${sqlString(d.replacement)}, 'g')`;
      }
      return expr;
    }

    default: {
      const never: never = plan.strategy;
      throw new Error(`unknown mask strategy ${JSON.stringify(never)}`);
    }
  }
}
