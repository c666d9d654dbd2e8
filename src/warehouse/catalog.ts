// A schema catalog held in memory, and the mapping from DuckDB type names to the Snowflake
// types agents see. Every engine reads its catalog once and serves lookups from here.
import type { Catalog, CatalogTable, SnowflakeType } from './types.ts';

/** Snowflake resolves unquoted identifiers upper-cased; lookups here do the same. */
const fold = (s: string): string => s.toUpperCase();

export class StaticCatalog implements Catalog {
  readonly database: string;
  readonly schema: string;
  private readonly byKey = new Map<string, CatalogTable>();
  private readonly list: CatalogTable[];

  /** `defaults` name what unqualified references resolve against (default: the first table's). */
  constructor(tables: CatalogTable[], defaults?: { database?: string; schema?: string }) {
    this.list = [...tables];
    this.database = defaults?.database ?? tables[0]?.database ?? '';
    this.schema = defaults?.schema ?? tables[0]?.schema ?? '';
    for (const t of this.list) {
      const key = StaticCatalog.key(t.database, t.schema, t.name);
      // Two tables differing only in case cannot be told apart by unquoted names: refuse to
      // guess which one a reference means.
      if (this.byKey.has(key)) throw new Error(`catalog has two tables that differ only in case: ${t.schema}.${t.name}`);
      this.byKey.set(key, t);
    }
  }

  private static key(database: string, schema: string, table: string): string {
    // JSON-encode the parts so that names containing dots cannot collide.
    return JSON.stringify([fold(database), fold(schema), fold(table)]);
  }

  tables(): CatalogTable[] {
    return [...this.list];
  }

  find(name: { database?: string; schema?: string; table: string }): CatalogTable | undefined {
    return this.byKey.get(StaticCatalog.key(name.database ?? this.database, name.schema ?? this.schema, name.table));
  }
}

/**
 * The Snowflake type an agent sees for a DuckDB type name, as DuckDB prints it
 * (information_schema.columns.data_type, duckdb_columns().data_type, DuckDBType.toString()).
 * Unknown names map to 'text' so that whatever they hold is still scanned by the detectors.
 */
export function snowflakeTypeOf(duckdbType: string): SnowflakeType {
  const t = duckdbType.trim().toUpperCase();
  // Nested types first: "VARCHAR[]" is a list, not text.
  if (t.endsWith(']') || /^(STRUCT|MAP|UNION)\s*\(/.test(t) || t === 'JSON' || t === 'VARIANT') return 'variant';
  const base = t.replace(/\s*\(.*$/s, '');
  switch (base) {
    case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT': case 'HUGEINT':
    case 'UTINYINT': case 'USMALLINT': case 'UINTEGER': case 'UBIGINT': case 'UHUGEINT':
    case 'INT1': case 'INT2': case 'INT4': case 'INT8': case 'INT': case 'SHORT': case 'LONG':
    case 'DECIMAL': case 'NUMERIC': case 'BIGNUM': case 'VARINT':
      return 'fixed';
    case 'FLOAT': case 'DOUBLE': case 'REAL': case 'FLOAT4': case 'FLOAT8':
      return 'real';
    case 'VARCHAR': case 'CHAR': case 'BPCHAR': case 'TEXT': case 'STRING': case 'ENUM': case 'UUID':
      return 'text';
    case 'DATE':
      return 'date';
    case 'TIME': case 'TIME_NS': case 'TIMETZ': case 'TIME WITH TIME ZONE':
      return 'time';
    case 'TIMESTAMP': case 'DATETIME': case 'TIMESTAMP_S': case 'TIMESTAMP_MS': case 'TIMESTAMP_NS':
    case 'TIMESTAMP_US':
      return 'timestamp_ntz';
    case 'TIMESTAMPTZ': case 'TIMESTAMP WITH TIME ZONE':
      return 'timestamp_tz';
    case 'BOOLEAN': case 'BOOL': case 'LOGICAL':
      return 'boolean';
    case 'BLOB': case 'BYTEA': case 'BINARY': case 'VARBINARY':
      return 'binary';
    default:
      return 'text';
  }
}

/** Text-typed columns are the ones the result scan reads and `scrub` applies to. */
export function isTextual(type: SnowflakeType): boolean {
  return type === 'text';
}
