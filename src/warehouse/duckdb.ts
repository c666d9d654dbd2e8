// The embedded DuckDB warehouse: the standalone mode's default engine (":demo:" is the
// bundled synthetic dataset) and the engine most tests run against.
//
// Locked down at open: no file or network access, no extension loading, read-only when asked,
// and configuration locked so a statement cannot undo any of it. Every statement runs on its
// own connection, so nothing one statement leaves behind (temp tables, session settings) is
// seen by the next, and concurrent statements simply run side by side.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DuckDBInstance, StatementType, type DuckDBConnection, type DuckDBResult,
} from '@duckdb/node-api';
import type { DuckDBWarehouseSpec } from '../api/types.ts';
import { StaticCatalog, isTextual, snowflakeTypeOf } from './catalog.ts';
import { demoDatabasePath } from './demo-dataset.ts';
import { checkDuckDBParse, type EngineDefaults } from './duckdb-crosscheck.ts';
import { duckdbMaskExpression, quoteIdent } from './duckdb-sql.ts';
import { cellEncoder, resultColumn, type CellEncoder } from './duckdb-values.ts';
import { compatMacrosFor, explainCompatError } from './duckdb-compat.ts';
import type {
  Catalog, CatalogColumn, CatalogTable, ExecuteOptions, MaskPlan, ResultStream, RewriteExpectation, Warehouse,
} from './types.ts';

export const DEMO_PATH = ':demo:';

export interface OpenDuckDBOptions {
  readOnly: boolean;
  cacheDir?: string;
  onProgress?: (msg: string) => void;
}

/**
 * Settings that keep agent SQL inside the database file; each is read back after open.
 * lock_configuration is set last, once the rest (and the time zone) are in place: after it,
 * no statement can change any global setting.
 */
const LOCKDOWN: Record<string, string> = {
  enable_external_access: 'false',
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
  allow_community_extensions: 'false',
  allow_unsigned_extensions: 'false',
};

/** Statement types execute() runs. Everything else (SET, PRAGMA, ATTACH, CALL, COPY, ...) is refused. */
const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);
const WRITE_STATEMENTS = new Set<StatementType>([
  StatementType.INSERT, StatementType.UPDATE, StatementType.DELETE, StatementType.MERGE_INTO,
  StatementType.CREATE, StatementType.ALTER, StatementType.DROP,
]);

/** Thrown when a statement is stopped by its timeout or its AbortSignal. */
export class StatementInterrupted extends Error {
  constructor(readonly reason: 'timeout' | 'aborted', message: string) {
    super(message);
    this.name = reason === 'timeout' ? 'TimeoutError' : 'AbortError';
  }
}

export async function openDuckDBWarehouse(spec: DuckDBWarehouseSpec, opts: OpenDuckDBOptions): Promise<Warehouse> {
  let path = spec.path;
  let privateDir: string | undefined;
  if (path === DEMO_PATH) {
    path = await demoDatabasePath({ cacheDir: opts.cacheDir, onProgress: opts.onProgress });
    if (!opts.readOnly) {
      // A writable demo gets its own copy: the cached file is shared by every run on this machine.
      privateDir = await mkdtemp(join(tmpdir(), 'phigate-demo-'));
      const copy = join(privateDir, 'clinical.duckdb');
      await copyFile(path, copy);
      path = copy;
    }
  } else if (path !== ':memory:' && !existsSync(path)) {
    // Without this, a writable open would quietly create an empty database at a mistyped path.
    throw new Error(`DuckDB database file not found: ${path}`);
  }
  try {
    const instance = await openLockedInstance(path, opts.readOnly);
    try {
      const { catalog, nativeTypes, defaults } = await readCatalog(instance, spec.schema ?? 'main');
      return new DuckDBWarehouse(instance, opts.readOnly, catalog, nativeTypes, defaults, privateDir);
    } catch (e) {
      instance.closeSync();
      throw e;
    }
  } catch (e) {
    if (privateDir) await rm(privateDir, { recursive: true, force: true });
    throw e;
  }
}

/** A DuckDB instance on `path` with the lock-down applied and verified. */
export async function openLockedInstance(path: string, readOnly: boolean): Promise<DuckDBInstance> {
  const instance = await DuckDBInstance.create(path, { ...(readOnly ? { access_mode: 'READ_ONLY' } : {}), ...LOCKDOWN });
  try {
    const conn = await instance.connect();
    try {
      // UTC sessions make TIMESTAMPTZ arithmetic the same on every machine. TimeZone cannot be
      // given at creation (it belongs to the ICU extension, loaded after the config is read),
      // so it is set globally here, before the lock.
      await conn.run("SET GLOBAL TimeZone = 'UTC'");
      await conn.run('SET GLOBAL lock_configuration = true');
    } finally {
      conn.disconnectSync();
    }
    await verifyLockdown(instance, readOnly);
    return instance;
  } catch (e) {
    instance.closeSync();
    throw e;
  }
}

/** Reads each lock-down setting back and checks that a SET is refused: fail closed if not. */
async function verifyLockdown(instance: DuckDBInstance, readOnly: boolean): Promise<void> {
  const conn = await instance.connect();
  try {
    const expected: Record<string, string> = { ...LOCKDOWN, lock_configuration: 'true', TimeZone: 'utc' };
    if (readOnly) expected.access_mode = 'read_only';
    const reader = await conn.runAndReadAll(
      `SELECT name, value FROM duckdb_settings() WHERE name IN (${Object.keys(expected).map((n) => `'${n}'`).join(', ')})`);
    const actual = new Map(reader.getRowsJS().map(([n, v]) => [String(n), String(v).toLowerCase()]));
    for (const [name, value] of Object.entries(expected)) {
      if (actual.get(name) !== value) throw new Error(`DuckDB did not apply the setting ${name}=${value}`);
    }
    let setRefused = false;
    try { await conn.run('SET enable_external_access = true'); } catch { setRefused = true; }
    if (!setRefused) throw new Error('DuckDB accepted a configuration change after lock_configuration');
  } finally {
    conn.disconnectSync();
  }
}

async function readCatalog(instance: DuckDBInstance, schema: string):
  Promise<{ catalog: StaticCatalog; nativeTypes: WeakMap<CatalogColumn, string>; defaults: EngineDefaults }> {
  const conn = await instance.connect();
  try {
    const current = await conn.runAndReadAll('SELECT current_database(), current_schema()');
    const [database, defaultSchema] = (current.getRowsJS()[0] ?? []).map(String) as [string, string];
    const reader = await conn.runAndReadAll(`
      SELECT schema_name, table_name, column_name, data_type
      FROM duckdb_columns()
      WHERE database_name = current_database() AND NOT internal
      ORDER BY schema_name, table_name, column_index`);
    const tables = new Map<string, CatalogTable>();
    const nativeTypes = new WeakMap<CatalogColumn, string>();
    for (const [s, t, c, dataType] of reader.getRowsJS().map((r) => r.map(String))) {
      const key = JSON.stringify([s, t]);
      let table = tables.get(key);
      if (!table) { table = { database, schema: s as string, name: t as string, columns: [] }; tables.set(key, table); }
      const type = snowflakeTypeOf(dataType as string);
      const column: CatalogColumn = { name: c as string, type, textual: isTextual(type) };
      nativeTypes.set(column, dataType as string);
      table.columns.push(column);
    }
    return {
      catalog: new StaticCatalog([...tables.values()], { database, schema }),
      nativeTypes,
      defaults: { database, schema: defaultSchema },
    };
  } finally {
    conn.disconnectSync();
  }
}

class DuckDBWarehouse implements Warehouse {
  readonly engine = 'duckdb' as const;
  private closed = false;

  constructor(
    private readonly instance: DuckDBInstance,
    readonly readOnly: boolean,
    private readonly cat: StaticCatalog,
    private readonly nativeTypes: WeakMap<CatalogColumn, string>,
    private readonly defaults: EngineDefaults,
    private readonly privateDir: string | undefined,
  ) {}

  async catalog(): Promise<Catalog> {
    return this.cat;
  }

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  maskExpression(plan: MaskPlan, columnSql: string, column: CatalogColumn): string {
    return duckdbMaskExpression(plan, columnSql, column, this.nativeTypes.get(column));
  }

  async crossCheck(rewrittenSql: string, expect: RewriteExpectation): Promise<void> {
    const conn = await this.connect();
    let serialized: string;
    try {
      // Bound as a parameter, never spliced into SQL. The cast is needed: json_serialize_sql
      // refuses a parameter of unknown type ("first argument must be a VARCHAR").
      const reader = await conn.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [rewrittenSql]);
      serialized = String(reader.getRowsJS()[0]?.[0]);
    } finally {
      conn.disconnectSync();
    }
    checkDuckDBParse(JSON.parse(serialized), expect, this.defaults);
  }

  async execute(sql: string, opts: ExecuteOptions): Promise<ResultStream> {
    const conn = await this.connect();
    const run = new RunningStatement(conn, opts);
    let result: DuckDBResult;
    try {
      result = await run.guard(async () => {
        const compat = compatMacrosFor(sql);
        if (compat) await conn.run(compat);
        const extracted = await conn.extractStatements(sql);
        if (extracted.count !== 1) throw new Error(`expected exactly one statement, got ${extracted.count}`);
        const prepared = await extracted.prepare(0);
        const allowed = this.readOnly ? READ_STATEMENTS : new Set([...READ_STATEMENTS, ...WRITE_STATEMENTS]);
        if (!allowed.has(prepared.statementType)) {
          throw new Error(`the DuckDB warehouse does not run ${StatementType[prepared.statementType] ?? 'this kind of'} statements`);
        }
        return prepared.stream();
      });
    } catch (e) {
      run.close();
      if (e instanceof Error && !(e instanceof StatementInterrupted)) {
        const explained = explainCompatError(e.message);
        if (explained !== e.message) throw new Error(explained);
      }
      throw e;
    }
    const names = result.columnNames();
    const types = result.columnTypes();
    const columns = names.map((n, i) => resultColumn(n, types[i]!));
    const encoders = types.map(cellEncoder);
    let iterated = false;
    return {
      columns,
      chunks: {
        [Symbol.asyncIterator]: () => {
          // One result, one reader: a second iterator would steal the first one's chunks.
          if (iterated) throw new Error('a statement result can be read only once');
          iterated = true;
          return streamRows(run, result, encoders, opts.maxRows);
        },
      },
      cancel: () => run.cancel(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.instance.closeSync();
    if (this.privateDir) await rm(this.privateDir, { recursive: true, force: true });
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('the DuckDB warehouse is closed');
    return this.instance.connect();
  }
}

/**
 * One statement's connection, timeout and abort wiring. DuckDB stops a running statement with
 * an interrupt on its connection; the connection is closed once no call into it is in flight.
 */
class RunningStatement {
  private stopped: StatementInterrupted | 'cancelled' | undefined;
  private inFlight = 0;
  private closed = false;
  private disconnected = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop(new StatementInterrupted('aborted', 'statement aborted'));

  constructor(private readonly conn: DuckDBConnection, private readonly opts: ExecuteOptions) {
    if (Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0) {
      this.timer = setTimeout(
        () => this.stop(new StatementInterrupted('timeout', `statement timed out after ${opts.timeoutMs} ms`)),
        opts.timeoutMs);
      this.timer.unref();
    }
    if (opts.signal?.aborted) this.onAbort();
    else opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Runs a call into the connection; an interrupt during it becomes the interrupt's error. */
  async guard<T>(op: () => Promise<T>): Promise<T> {
    this.throwIfInterrupted();
    this.inFlight++;
    try {
      return await op();
    } catch (e) {
      this.throwIfInterrupted();
      throw e;
    } finally {
      this.inFlight--;
      this.disconnectIfIdle();
    }
  }

  /** Whether to stop reading: true after cancel(), throws after a timeout or an abort. */
  shouldStop(): boolean {
    this.throwIfInterrupted();
    return this.stopped === 'cancelled' || this.closed;
  }

  cancel(): void {
    this.stop('cancelled');
  }

  /** Releases the statement; the connection goes as soon as no call into it is running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.disconnectIfIdle();
  }

  private stop(why: StatementInterrupted | 'cancelled'): void {
    if (this.stopped || this.closed) return;
    this.stopped = why;
    this.conn.interrupt();
    this.close();
  }

  private disconnectIfIdle(): void {
    if (this.closed && this.inFlight === 0 && !this.disconnected) {
      this.disconnected = true;
      this.conn.disconnectSync();
    }
  }

  private throwIfInterrupted(): void {
    if (this.stopped instanceof StatementInterrupted) throw this.stopped;
  }
}

async function* streamRows(run: RunningStatement, result: DuckDBResult, encoders: CellEncoder[], maxRows: number):
  AsyncGenerator<(string | null)[][]> {
  let remaining = maxRows;
  try {
    while (remaining > 0 && !run.shouldStop()) {
      const chunk = await run.guard(() => result.fetchChunk());
      // An interrupted stream ends with an empty chunk rather than an error: check first.
      if (run.shouldStop() || !chunk || chunk.rowCount === 0) return;
      const n = Math.min(chunk.rowCount, remaining);
      const vectors = encoders.map((_, i) => chunk.getColumnVector(i));
      const rows: (string | null)[][] = new Array(n);
      for (let r = 0; r < n; r++) {
        const row: (string | null)[] = new Array(encoders.length);
        for (let c = 0; c < encoders.length; c++) row[c] = encoders[c]!(vectors[c]!, r);
        rows[r] = row;
      }
      remaining -= n;
      yield rows;
    }
  } finally {
    run.close();
  }
}
