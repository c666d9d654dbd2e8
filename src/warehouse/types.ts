// The Warehouse interface: what the gateway needs from an engine. Each engine supplies its
// own SQL for mask expressions and its own cross-check of a rewritten statement.
import type { MaskStrategy, DetectorName } from '../api/types.ts';

/** A column as the catalog knows it. `type` is the Snowflake type name shown to agents. */
export interface CatalogColumn { name: string; type: SnowflakeType; textual: boolean }
export interface CatalogTable { database: string; schema: string; name: string; columns: CatalogColumn[] }

export type SnowflakeType =
  | 'fixed' | 'real' | 'text' | 'date' | 'time' | 'timestamp_ntz' | 'timestamp_tz' | 'timestamp_ltz'
  | 'boolean' | 'binary' | 'variant' | 'object' | 'array';

/** Case-insensitive lookup of tables by database/schema/name, as Snowflake resolves unquoted names. */
export interface Catalog {
  readonly database: string;
  readonly schema: string;
  tables(): CatalogTable[];
  find(name: { database?: string; schema?: string; table: string }): CatalogTable | undefined;
}

/** What to put in place of one column inside a masked projection. */
export interface MaskPlan {
  strategy: MaskStrategy;
  keep?: number;                 // partial
  hashKey?: string;              // hash (never logged)
  detectors?: DetectorName[];    // scrub
}

export interface ResultColumn {
  name: string; type: SnowflakeType; textual: boolean; nullable: boolean;
  /** For 'fixed' columns where the engine reports them (Snowflake does); drivers need the scale. */
  precision?: number; scale?: number;
}

/** A running statement: columns are known before the first row; rows arrive in chunks. */
export interface ResultStream {
  columns: ResultColumn[];
  /** Each chunk is rows of Snowflake-encoded strings (null stays null). */
  chunks: AsyncIterable<(string | null)[][]>;
  cancel(): void;
}

export interface ExecuteOptions {
  maxRows: number; timeoutMs: number; signal?: AbortSignal;
  /** The audit statement record id (Snowflake: in QUERY_TAG). */
  tag?: string;
  /** The agent's gateway session (Snowflake: in QUERY_TAG), when the caller passes it. */
  session?: string;
}

/** Table positions a rewrite produced, for the engine to confirm with its own parser. */
export interface RewriteExpectation {
  /** Offsets in the rewritten text of each base-table name the rewrite placed inside a projection. */
  projectionTables: { start: number; end: number; table: CatalogTable }[];
  /** Offsets in the rewritten text of references the analyser bound to CTEs. */
  cteReferences: { start: number; end: number; name: string }[];
}

export interface Warehouse {
  readonly engine: 'duckdb' | 'snowflake';
  readonly readOnly: boolean;
  catalog(): Promise<Catalog>;
  quoteIdent(name: string): string;
  /** SQL expression masking `columnSql` (already quoted) of the given column. */
  maskExpression(plan: MaskPlan, columnSql: string, column: CatalogColumn): string;
  /** The engine's own reading of the rewritten text; throws EngineDisagreement when it differs. */
  crossCheck(rewrittenSql: string, expect: RewriteExpectation): Promise<void>;
  execute(sql: string, opts: ExecuteOptions): Promise<ResultStream>;
  close(): Promise<void>;
}

export class EngineDisagreement extends Error {
  constructor(message: string) { super(message); this.name = 'EngineDisagreement'; }
}
