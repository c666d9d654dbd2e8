// The Snowflake warehouse, through the official Node driver (snowflake-sdk).
//
// - Credentials come from the policy's Secret (credentialsSecretRef): key `username` and one of
//   `password`, `privateKey` (PEM, key-pair/JWT; optional `privateKeyPassphrase`) or `token`
//   (OAuth access token). Optional key `accessUrl` points the driver at another endpoint (a
//   private-link URL, or an emulator in tests); PHIGATE_SNOWFLAKE_URL does the same for all.
// - One connection pool per warehouse (server.ts opens one per policy credential).
// - Rows are streamed (streamResult) and read in batches, never buffered whole.
// - Every statement carries QUERY_TAG {"phigate":{"statement":<audit record id>,"session":...}}
//   and STATEMENT_TIMEOUT_IN_SECONDS as statement parameters; the statement is cancelled in
//   Snowflake when its AbortSignal fires (the agent went away) or its timeout passes.
// - Errors are reduced to Snowflake's code and first line, with quoted literals removed, and
//   never carry credentials.
// - The catalog is read from INFORMATION_SCHEMA.COLUMNS, cached for CATALOG_TTL_MS and
//   refreshed early after an "invalid identifier" / "does not exist" error.
// - crossCheck runs EXPLAIN USING JSON on the rewritten text and compares the tables the plan
//   scans with the rewrite's projection tables (snowflake-crosscheck.ts); verdicts are cached
//   by fingerprint of the text.
import { createHash } from 'node:crypto';
import snowflake from 'snowflake-sdk';
import type { SnowflakeWarehouseSpec, SecretObject } from '../api/types.ts';
import { secretValue } from '../api/load.ts';
import { StaticCatalog, isTextual } from './catalog.ts';
import { checkExplainPlan, parseExplain } from './snowflake-crosscheck.ts';
import { nativeSnowflakeType, quoteIdent, snowflakeMaskExpression, sqlString } from './snowflake-sql.ts';
import { secondsText } from './duckdb-values.ts';
import {
  EngineDisagreement,
  type Catalog, type CatalogColumn, type CatalogTable, type ExecuteOptions, type MaskPlan, type ResultColumn,
  type ResultStream, type RewriteExpectation, type SnowflakeType, type Warehouse,
} from './types.ts';

export const CATALOG_TTL_MS = 5 * 60_000;
const BATCH_ROWS = 1000;
const POOL_MAX = 8;

type Connection = ReturnType<typeof snowflake.createConnection>;
type Pool = ReturnType<typeof snowflake.createPool>;

/** Thrown for a warehouse that cannot be opened; the message names what to fix, never a secret. */
export class SnowflakeConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'SnowflakeConfigError'; }
}

export interface SnowflakeCredentials {
  username: string;
  password?: string;
  privateKey?: string;
  privateKeyPassphrase?: string;
  token?: string;
  accessUrl?: string;
}

/** Reads the policy's credentials Secret: username + password | privateKey | token. */
export function credentialsFrom(secrets: readonly SecretObject[], namespace: string, name: string): SnowflakeCredentials {
  const get = (k: string) => secretValue(secrets, namespace, name, k);
  const where = `Secret ${namespace}/${name}`;
  if (!secrets.some((s) => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace)) {
    throw new SnowflakeConfigError(`${where} (credentialsSecretRef) not found; add it to the files given with -f`);
  }
  const username = get('username');
  if (!username) throw new SnowflakeConfigError(`${where} has no key username`);
  const creds: SnowflakeCredentials = { username };
  const password = get('password'), privateKey = get('privateKey'), token = get('token');
  const given = [password, privateKey, token].filter((v) => v).length;
  if (given === 0) throw new SnowflakeConfigError(`${where} needs one of the keys password, privateKey (PEM) or token (OAuth)`);
  if (given > 1) throw new SnowflakeConfigError(`${where} has more than one of password, privateKey and token; keep exactly one`);
  if (password) creds.password = password;
  if (privateKey) {
    if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(privateKey)) throw new SnowflakeConfigError(`${where}: privateKey must be a PKCS#8 PEM key (-----BEGIN PRIVATE KEY----- or ENCRYPTED PRIVATE KEY)`);
    creds.privateKey = privateKey;
    const pass = get('privateKeyPassphrase');
    if (pass) creds.privateKeyPassphrase = pass;
  }
  if (token) creds.token = token;
  const accessUrl = get('accessUrl');
  if (accessUrl) creds.accessUrl = accessUrl;
  return creds;
}

/** snowflake-sdk connection options for a spec and its credentials. */
export function connectionOptions(spec: SnowflakeWarehouseSpec, creds: SnowflakeCredentials): Record<string, unknown> {
  const accessUrl = creds.accessUrl ?? process.env.PHIGATE_SNOWFLAKE_URL;
  if (accessUrl && !/^https?:\/\/[^\s/]+\/?$/.test(accessUrl)) throw new SnowflakeConfigError('accessUrl must be a URL like https://host[:port]');
  const opts: Record<string, unknown> = {
    account: spec.account,
    username: creds.username,
    database: spec.database,
    schema: spec.schema,
    ...(spec.warehouse ? { warehouse: spec.warehouse } : {}),
    ...(spec.role ? { role: spec.role } : {}),
    ...(accessUrl ? { accessUrl: accessUrl.replace(/\/$/, '') } : {}),
    application: 'phigate',
    clientSessionKeepAlive: true,
  };
  if (creds.password) opts.password = creds.password;
  else if (creds.privateKey) {
    opts.authenticator = 'SNOWFLAKE_JWT';
    opts.privateKey = creds.privateKey;
    if (creds.privateKeyPassphrase) opts.privateKeyPass = creds.privateKeyPassphrase;
  } else if (creds.token) {
    opts.authenticator = 'OAUTH';
    opts.token = creds.token;
  }
  return opts;
}

let sdkConfigured = false;
/**
 * The driver logs through winston to stdout by default, which is phigate's audit stream: send
 * its warnings and errors to stderr instead, and nothing else.
 */
function configureSdk(): void {
  if (sdkConfigured) return;
  sdkConfigured = true;
  const toStderr = (level: string) => (message: string) => { process.stderr.write(`snowflake-sdk ${level}: ${String(message).split('\n')[0]!.slice(0, 500)}\n`); };
  const quiet = () => {};
  snowflake.configure({
    logLevel: 'WARN',
    customLogger: { error: toStderr('error'), warn: toStderr('warn'), info: quiet, debug: quiet, trace: quiet },
  } as Parameters<typeof snowflake.configure>[0]);
}

/** The Snowflake type for INFORMATION_SCHEMA.COLUMNS.DATA_TYPE or a result column's getType(). */
export function snowflakeTypeName(t: string): SnowflakeType {
  switch (t.trim().toUpperCase().replace(/\(.*$/s, '')) {
    case 'NUMBER': case 'DECIMAL': case 'NUMERIC': case 'INT': case 'INTEGER': case 'BIGINT': case 'SMALLINT':
    case 'TINYINT': case 'BYTEINT': case 'FIXED':
      return 'fixed';
    case 'FLOAT': case 'FLOAT4': case 'FLOAT8': case 'DOUBLE': case 'DOUBLE PRECISION': case 'REAL':
      return 'real';
    case 'DATE': return 'date';
    case 'TIME': return 'time';
    case 'TIMESTAMP_NTZ': case 'DATETIME': case 'TIMESTAMP': return 'timestamp_ntz';
    case 'TIMESTAMP_TZ': return 'timestamp_tz';
    case 'TIMESTAMP_LTZ': return 'timestamp_ltz';
    case 'BOOLEAN': return 'boolean';
    case 'BINARY': case 'VARBINARY': return 'binary';
    case 'VARIANT': return 'variant';
    case 'OBJECT': return 'object';
    case 'ARRAY': return 'array';
    // TEXT, VARCHAR, and anything unknown (GEOGRAPHY, VECTOR, ...): scanned as text.
    default: return 'text';
  }
}

/** A Snowflake error as one line: code and message, quoted literals removed (they may be values). */
export function describeSnowflakeError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown; sqlState?: unknown };
  let msg = String(err?.message ?? e).split('\n')[0]!.slice(0, 500);
  // Object names are useful and are not values; literals ('…') in other messages may be values.
  if (!/invalid identifier|does not exist|not authorized|syntax error/i.test(msg)) msg = msg.replace(/'(?:[^']|'')*'/g, "'…'");
  const code = typeof err?.code === 'string' || typeof err?.code === 'number' ? ` ${err.code}` : '';
  return `Snowflake error${code}: ${msg}`;
}

/** Strips every credential value from a message, however it got there. */
function redactSecrets(message: string, creds: SnowflakeCredentials): string {
  let out = message;
  for (const v of [creds.password, creds.privateKey, creds.privateKeyPassphrase, creds.token]) {
    if (v && v.length >= 4) out = out.split(v).join('[CREDENTIAL]');
  }
  return out;
}

export class StatementInterrupted extends Error {
  constructor(readonly reason: 'timeout' | 'aborted', message: string) {
    super(message);
    this.name = reason === 'timeout' ? 'TimeoutError' : 'AbortError';
  }
}

// --- value encoding: the SQL API v2 string forms the rest of the gateway uses -------------

type Encoder = (v: unknown) => string | null;

function epochText(seconds: number, nanos: number): string {
  return secondsText(BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(nanos)), 1_000_000_000n);
}

export function encoderFor(type: SnowflakeType): Encoder {
  const str = (v: unknown) => (typeof v === 'string' ? v : String(v));
  switch (type) {
    case 'fixed': case 'real': case 'text':
      return (v) => (v == null ? null : str(v));
    case 'boolean':
      return (v) => (v == null ? null : v === true || v === 'true' || v === 'TRUE' || v === '1' ? 'true' : 'false');
    case 'date':
      return (v) => {
        if (v == null) return null;
        const d = v as { getEpochSeconds?: () => number } & Date;
        const s = typeof d.getEpochSeconds === 'function' ? d.getEpochSeconds() : Math.floor(d.getTime() / 1000);
        return String(Math.floor(s / 86400));
      };
    case 'time':
      return (v) => {
        if (v == null) return null;
        const t = v as { getMidnightSeconds?: () => number; getNanoSeconds?: () => number };
        if (typeof t.getMidnightSeconds === 'function') return epochText(t.getMidnightSeconds(), t.getNanoSeconds?.() ?? 0);
        return str(v);
      };
    case 'timestamp_ntz': case 'timestamp_ltz': case 'timestamp_tz':
      return (v) => {
        if (v == null) return null;
        const d = v as Date & { getEpochSeconds?: () => number; getNanoSeconds?: () => number; getTimezone?: () => unknown };
        const base = typeof d.getEpochSeconds === 'function'
          ? epochText(d.getEpochSeconds(), d.getNanoSeconds?.() ?? 0)
          : epochText(Math.floor(d.getTime() / 1000), (((d.getTime() % 1000) + 1000) % 1000) * 1_000_000);
        if (type !== 'timestamp_tz') return base;
        const tz = d.getTimezone?.();
        const offset = typeof tz === 'number' ? tz : 0;
        return `${base} ${offset + 1440}`;
      };
    case 'binary':
      return (v) => (v == null ? null : Buffer.isBuffer(v) ? v.toString('hex') : str(v));
    default:
      return (v) => (v == null ? null : typeof v === 'string' ? v : JSON.stringify(v));
  }
}

// --- the warehouse ---------------------------------------------------------------------------

export interface OpenSnowflakeOptions {
  readOnly: boolean;
  secrets: readonly SecretObject[];
  namespace: string;
  onProgress?: (msg: string) => void;
  /** For tests: a pool factory instead of snowflake.createPool. */
  createPool?: (options: Record<string, unknown>) => Pool;
}

export async function openSnowflakeWarehouse(spec: SnowflakeWarehouseSpec, opts: OpenSnowflakeOptions): Promise<Warehouse> {
  configureSdk();
  const creds = credentialsFrom(opts.secrets, opts.namespace, spec.credentialsSecretRef.name);
  const options = connectionOptions(spec, creds);
  const pool = (opts.createPool ?? ((o) => snowflake.createPool(o as Parameters<typeof snowflake.createPool>[0], { max: POOL_MAX, min: 0, evictionRunIntervalMillis: 60_000, idleTimeoutMillis: 10 * 60_000 } as any)))(options);
  const crossCheck = process.env.PHIGATE_SNOWFLAKE_EXPLAIN?.toLowerCase() === 'off' ? 'off' : 'explain';
  if (crossCheck === 'off') {
    opts.onProgress?.('WARNING: PHIGATE_SNOWFLAKE_EXPLAIN=off: the EXPLAIN cross-check of rewritten statements is disabled (emulators and tests only)');
  }
  const wh = new SnowflakeWarehouse(spec, pool, creds, opts.readOnly, crossCheck);
  try {
    await wh.catalog(); // fail at start-up, not on the first statement, if the account cannot be reached
  } catch (e) {
    await wh.close().catch(() => {});
    throw new SnowflakeConfigError(`cannot open Snowflake account ${spec.account} as ${creds.username}: ${redactSecrets(describeSnowflakeError(e), creds)}`);
  }
  return wh;
}

/** A verdict of the EXPLAIN cross-check: passed, or the disagreement to throw again. */
type Verdict = { ok: true } | { ok: false; message: string };

export class SnowflakeWarehouse implements Warehouse {
  readonly engine = 'snowflake' as const;
  private cat?: { catalog: StaticCatalog; native: WeakMap<CatalogColumn, string>; at: number };
  private loading?: Promise<StaticCatalog>;
  private readonly verdicts = new Map<string, Verdict>();
  private closed = false;

  constructor(
    private readonly spec: SnowflakeWarehouseSpec,
    private readonly pool: Pool,
    private readonly creds: SnowflakeCredentials,
    readonly readOnly: boolean,
    private readonly crossCheckMode: 'explain' | 'off',
    private readonly now: () => number = () => Date.now(),
  ) {}

  async catalog(): Promise<Catalog> {
    if (this.cat && this.now() - this.cat.at < CATALOG_TTL_MS) return this.cat.catalog;
    this.loading ??= this.readCatalog().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  /** Forget the cached catalog: the next catalog() reads INFORMATION_SCHEMA again. */
  invalidateCatalog(): void {
    if (this.cat) this.cat.at = -Infinity;
    this.verdicts.clear();
  }

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  maskExpression(plan: MaskPlan, columnSql: string, column: CatalogColumn): string {
    return snowflakeMaskExpression(plan, columnSql, column, this.cat?.native.get(column));
  }

  async crossCheck(rewrittenSql: string, expect: RewriteExpectation): Promise<void> {
    if (this.crossCheckMode === 'off') return;
    const fp = createHash('sha256').update(rewrittenSql).update('\u0000').update(JSON.stringify(expect.projectionTables.map((p) => [p.table.database, p.table.schema, p.table.name]))).digest('hex');
    let verdict = this.verdicts.get(fp);
    if (!verdict) {
      let rows: unknown[][];
      try {
        rows = await this.query(`EXPLAIN USING JSON ${rewrittenSql}`, { timeoutMs: 60_000 });
      } catch (e) {
        // Fail closed, with Snowflake's reason (a compile error, usually); not cached, since
        // a network error or a refreshed catalog may give another answer next time.
        throw new EngineDisagreement(`Snowflake could not EXPLAIN the rewritten statement: ${e instanceof Error ? e.message : String(e)}`);
      }
      const content = rows[0]?.[0];
      try {
        checkExplainPlan(parseExplain(content), expect);
        verdict = { ok: true };
      } catch (e) {
        if (!(e instanceof EngineDisagreement)) throw e;
        verdict = { ok: false, message: e.message };
      }
      if (this.verdicts.size >= 2000) this.verdicts.delete(this.verdicts.keys().next().value as string);
      this.verdicts.set(fp, verdict);
    }
    if (!verdict.ok) throw new EngineDisagreement(verdict.message);
  }

  async execute(sql: string, opts: ExecuteOptions): Promise<ResultStream> {
    const conn = await this.acquire();
    const run = new RunningStatement(opts);
    let stmt: any;
    try {
      stmt = await run.guard(() => new Promise<any>((resolve, reject) => {
        const s = conn.execute({
          sqlText: sql,
          streamResult: true,
          rowMode: 'array',
          fetchAsString: ['Number', 'JSON'],
          parameters: this.statementParameters(opts),
          complete: (err: unknown, st: any) => (err ? reject(err) : resolve(st)),
        } as any);
        run.onStop(() => { try { s.cancel(() => {}); } catch { /* already done */ } });
      }));
    } catch (e) {
      run.close();
      await this.release(conn);
      throw this.mapError(e, run);
    }
    const columns: ResultColumn[] = (stmt.getColumns() ?? []).map((c: any) => {
      const type = snowflakeTypeName(String(c.getType()));
      const col: ResultColumn = { name: String(c.getName()), type, textual: isTextual(type), nullable: c.isNullable() !== false };
      if (type === 'fixed') { col.precision = Number(c.getPrecision()); col.scale = Number(c.getScale()); }
      return col;
    });
    const encoders = columns.map((c) => encoderFor(c.type));
    let iterated = false;
    const self = this;
    return {
      columns,
      chunks: {
        [Symbol.asyncIterator]: () => {
          if (iterated) throw new Error('a statement result can be read only once');
          iterated = true;
          return (async function* () {
            const rows = stmt.streamRows();
            run.onStop(() => rows.destroy());
            let remaining = opts.maxRows;
            let batch: (string | null)[][] = [];
            try {
              for await (const row of rows) {
                run.check();
                if (remaining <= 0) break;
                const arr = row as unknown[];
                const out: (string | null)[] = new Array(encoders.length);
                for (let i = 0; i < encoders.length; i++) out[i] = encoders[i]!(arr[i]);
                batch.push(out);
                remaining--;
                if (batch.length >= BATCH_ROWS) { yield batch; batch = []; }
              }
              run.check();
              if (batch.length) yield batch;
            } catch (e) {
              throw self.mapError(e, run);
            } finally {
              rows.destroy();
              run.close();
              await self.release(conn);
            }
          })();
        },
      },
      cancel: () => run.cancel(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const p = this.pool as any;
    await p.drain?.().catch(() => {});
    await p.clear?.().catch(() => {});
  }

  // --- internals -------------------------------------------------------------------------

  private statementParameters(opts: ExecuteOptions): Record<string, unknown> {
    const params: Record<string, unknown> = { QUERY_TAG: queryTag(opts) };
    if (Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0) params.STATEMENT_TIMEOUT_IN_SECONDS = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
    return params;
  }

  private async acquire(): Promise<Connection> {
    if (this.closed) throw new Error('the Snowflake warehouse is closed');
    try {
      return await (this.pool as any).acquire();
    } catch (e) {
      throw new Error(redactSecrets(describeSnowflakeError(e), this.creds));
    }
  }

  private async release(conn: Connection): Promise<void> {
    try { await (this.pool as any).release(conn); } catch { /* already released or destroyed */ }
  }

  private mapError(e: unknown, run?: RunningStatement): Error {
    if (run?.interrupted) return run.interrupted;
    if (e instanceof StatementInterrupted || e instanceof EngineDisagreement) return e;
    const text = redactSecrets(describeSnowflakeError(e), this.creds);
    if (/invalid identifier|does not exist or not authorized/i.test(text)) this.invalidateCatalog();
    if (/\b000630\b|reached its statement timeout/i.test(text)) return new StatementInterrupted('timeout', `statement timeout: ${text}`);
    return new Error(text);
  }

  /** Runs a small statement to completion (catalog, EXPLAIN) and returns its rows. */
  private async query(sql: string, o: { timeoutMs: number }): Promise<unknown[][]> {
    const stream = await this.execute(sql, { maxRows: 1_000_000, timeoutMs: o.timeoutMs });
    const rows: unknown[][] = [];
    for await (const chunk of stream.chunks) rows.push(...chunk);
    return rows;
  }

  private async readCatalog(): Promise<StaticCatalog> {
    const db = this.spec.database;
    // The policy's database only: references to any other database do not bind and are denied.
    const rows = await this.query(
      `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, TABLE_CATALOG
       FROM ${/^[A-Za-z_][A-Za-z0-9_$]*$/.test(db) ? db : quoteIdent(db)}.INFORMATION_SCHEMA.COLUMNS
       WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
       ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, { timeoutMs: 120_000 });
    const tables = new Map<string, CatalogTable>();
    const native = new WeakMap<CatalogColumn, string>();
    for (const r of rows) {
      const [schema, table, column, dataType, precision, scale, catalogName] = r.map((v) => (v == null ? null : String(v)));
      if (!schema || !table || !column || !dataType) continue;
      const k = JSON.stringify([schema, table]);
      let t = tables.get(k);
      if (!t) { t = { database: catalogName ?? db, schema, name: table, columns: [] }; tables.set(k, t); }
      const type = snowflakeTypeName(dataType);
      const col: CatalogColumn = { name: column, type, textual: isTextual(type) };
      native.set(col, nativeSnowflakeType(dataType, precision == null ? null : Number(precision), scale == null ? null : Number(scale)));
      t.columns.push(col);
    }
    const first = tables.values().next().value as CatalogTable | undefined;
    const catalog = new StaticCatalog([...tables.values()], { database: first?.database ?? this.spec.database, schema: this.spec.schema });
    this.cat = { catalog, native, at: this.now() };
    return catalog;
  }
}

/** QUERY_TAG: JSON that joins Snowflake's QUERY_HISTORY / ACCESS_HISTORY with phigate's audit. */
export function queryTag(opts: ExecuteOptions): string {
  const tag: Record<string, string> = {};
  if (opts.tag) tag.statement = opts.tag;
  if (opts.session) tag.session = opts.session;
  return JSON.stringify({ phigate: tag }).slice(0, 2000);
}

/** A statement's timeout and abort wiring; stopping cancels it in Snowflake. */
class RunningStatement {
  interrupted?: StatementInterrupted;
  private cancelled = false;
  private closed = false;
  private readonly stops: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop(new StatementInterrupted('aborted', 'statement aborted'));

  constructor(private readonly opts: ExecuteOptions) {
    if (Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0) {
      // The server-side STATEMENT_TIMEOUT_IN_SECONDS is the first line; this is the second,
      // covering time spent streaming a result.
      this.timer = setTimeout(() => this.stop(new StatementInterrupted('timeout', `statement timeout after ${opts.timeoutMs} ms`)), opts.timeoutMs + 1000);
    }
    if (opts.signal?.aborted) queueMicrotask(this.onAbort);
    else opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onStop(fn: () => void): void {
    if (this.interrupted || this.cancelled) fn(); else this.stops.push(fn);
  }

  async guard<T>(op: () => Promise<T>): Promise<T> {
    this.check();
    try { return await op(); } catch (e) { this.check(); throw e; }
  }

  /** Throws after a timeout or abort. */
  check(): void {
    if (this.interrupted) throw this.interrupted;
  }

  cancel(): void {
    if (this.cancelled || this.closed) return;
    this.cancelled = true;
    for (const f of this.stops.splice(0)) f();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  private stop(why: StatementInterrupted): void {
    if (this.interrupted || this.closed) return;
    this.interrupted = why;
    for (const f of this.stops.splice(0)) f();
  }
}

export { sqlString as snowflakeString };
