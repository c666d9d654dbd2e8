// Snowflake SQL text that phigate generates itself: quoted names, string literals and the mask
// expressions that go inside a masked projection, with the same semantics as duckdb-sql.ts
// (each strategy's output is the same value for the same input, where the engines allow).
// Nothing here runs SQL.
import { ALL_DETECTORS, DETECTORS, inPrecedenceOrder } from '../masking/detectors.ts';
import type { DetectorName } from '../api/types.ts';
import type { CatalogColumn, MaskPlan, SnowflakeType } from './types.ts';
import { RESTRICTED_ZIP3 } from './hipaa.ts';
import { REDACTED, hashPrefixes } from './duckdb-sql.ts';

function refuseNul(s: string, what: string): void {
  if (s.includes('\0')) throw new Error(`${what} contains a NUL character`);
}

/**
 * A Snowflake string literal. Snowflake reads backslash escapes inside single-quoted strings
 * ('\'' is a quote, '\\' a backslash), so backslashes are doubled as well as quotes.
 */
export function sqlString(value: string): string {
  refuseNul(value, 'string literal');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A Snowflake quoted identifier: case-sensitive, internal double quotes doubled. */
export function quoteIdent(name: string): string {
  refuseNul(name, 'identifier');
  if (name === '') throw new Error('empty identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/** What a NULL of a column's type is written as, when the catalog did not say its exact type. */
const GENERIC_SNOWFLAKE_TYPE: Record<SnowflakeType, string> = {
  fixed: 'NUMBER(38,0)', real: 'FLOAT', text: 'VARCHAR', date: 'DATE', time: 'TIME',
  timestamp_ntz: 'TIMESTAMP_NTZ', timestamp_tz: 'TIMESTAMP_TZ', timestamp_ltz: 'TIMESTAMP_LTZ',
  boolean: 'BOOLEAN', binary: 'BINARY', variant: 'VARIANT', object: 'OBJECT', array: 'ARRAY',
};

const DEFAULT_KEEP = 4;

/** The Snowflake type a column is declared with, as INFORMATION_SCHEMA.COLUMNS describes it. */
export function nativeSnowflakeType(dataType: string, precision?: number | null, scale?: number | null): string {
  const t = dataType.trim().toUpperCase();
  if ((t === 'NUMBER' || t === 'DECIMAL' || t === 'NUMERIC') && precision != null) return `NUMBER(${precision},${scale ?? 0})`;
  return t;
}

/**
 * Snowflake SQL replacing `columnSql` (already quoted) inside a masked projection.
 * `nativeType` is the column's declared type when the catalog knows it, so NULLs keep it.
 */
export function snowflakeMaskExpression(plan: MaskPlan, columnSql: string, column: CatalogColumn, nativeType?: string): string {
  const col = columnSql;
  const typedNull = `CAST(NULL AS ${nativeType ?? GENERIC_SNOWFLAKE_TYPE[column.type]})`;
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
      return `(CASE WHEN ${asText} IS NULL THEN NULL`
        + ` WHEN LENGTH(${asText}) <= ${keep} THEN REPEAT('*', LENGTH(${asText}))`
        + ` ELSE REPEAT('*', LENGTH(${asText}) - ${keep}) || RIGHT(${asText}, ${keep}) END)`;
    }

    case 'hash': {
      if (plan.hashKey === undefined) throw new Error('the hash strategy needs a key');
      const { inner, outer } = hashPrefixes(plan.hashKey);
      // SHA2(..., 256) is lower-case hex, as DuckDB's sha256: a text value hashes to the same
      // token on both engines. NULL stays NULL (|| and SHA2 propagate it).
      return `SHA2(${sqlString(outer)} || SHA2(${sqlString(inner)} || CAST(${col} AS VARCHAR), 256), 256)`;
    }

    case 'year':
      switch (column.type) {
        // The casts keep the column's type on every engine (Snowflake's DATE_TRUNC already
        // does; emulators built on DuckDB return a TIMESTAMP for a DATE).
        case 'date': return `CAST(DATE_TRUNC('YEAR', ${col}) AS DATE)`;
        case 'timestamp_ntz': return `CAST(DATE_TRUNC('YEAR', ${col}) AS ${nativeType ?? 'TIMESTAMP_NTZ'})`;
        // Truncate the UTC wall clock, whatever the session's time zone, and keep the type.
        case 'timestamp_tz':
          return `DATE_TRUNC('YEAR', CONVERT_TIMEZONE('UTC', ${col}))`;
        case 'timestamp_ltz':
          return `CAST(DATE_TRUNC('YEAR', CONVERT_TIMEZONE('UTC', ${col})) AS TIMESTAMP_LTZ)`;
        default: return typedNull;
      }

    case 'zip3': {
      const v = column.textual ? `TRIM(${col})` : column.type === 'fixed' ? `LPAD(CAST(${col} AS VARCHAR), 5, '0')` : asText;
      const restricted = RESTRICTED_ZIP3.map(sqlString).join(', ');
      // "Starts with three digits", without regular expressions (TRANSLATE deletes the digits),
      // so the same text also runs where phigate's Snowflake dialect meets a DuckDB engine.
      const first3 = `SUBSTR(${v}, 1, 3)`;
      return `(CASE WHEN ${v} IS NULL THEN NULL`
        + ` WHEN LENGTH(${first3}) < 3 OR TRANSLATE(${first3}, '0123456789', '') <> '' THEN '00000'`
        + ` WHEN SUBSTR(${v}, 1, 3) IN (${restricted}) THEN '00000'`
        + ` ELSE SUBSTR(${v}, 1, 3) || '00' END)`;
    }

    case 'email_domain':
      if (!column.textual) return typedNull;
      // "Has an @ followed by a non-empty domain": the domain is what follows the last @.
      return `(CASE WHEN ${col} IS NULL THEN NULL`
        + ` WHEN CONTAINS(${col}, '@') AND SPLIT_PART(${col}, '@', -1) <> '' THEN '*@' || SPLIT_PART(${col}, '@', -1)`
        + ` ELSE '*' END)`;

    case 'scrub': {
      const names: readonly DetectorName[] = plan.detectors ?? ALL_DETECTORS;
      for (const name of names) {
        if (!Object.hasOwn(DETECTORS, name)) throw new Error(`scrub: unknown detector ${JSON.stringify(name)}`);
      }
      // The detectors' sqlPatterns are written for POSIX ERE (leftmost-longest), which is what
      // Snowflake's REGEXP_REPLACE implements; it replaces every occurrence by default.
      let expr = asText;
      for (const name of inPrecedenceOrder(names)) {
        const d = DETECTORS[name];
        expr = `REGEXP_REPLACE(${expr}, ${sqlString(d.sqlPattern)}, ${sqlString(d.replacement)})`;
      }
      return expr;
    }

    default: {
      const never: never = plan.strategy;
      throw new Error(`unknown mask strategy ${JSON.stringify(never)}`);
    }
  }
}
