// Snowflake driver-protocol front end: the REST endpoints that unmodified Snowflake drivers
// (snowflake-connector-python, snowflake-sdk, ...) speak, so an agent points its own driver at
// the gateway instead of at Snowflake and never holds warehouse credentials.
//
//   POST /session/v1/login-request     the agent's phigate token as PASSWORD (or TOKEN with
//                                       authenticator OAUTH / programmatic access token)
//   POST /session/token-request        renew the session token with the master token
//   POST /session/heartbeat            keep-alive
//   POST /session?delete=true          log out: running statements are cancelled
//   POST /queries/v1/query-request     run one statement (sqlText; asyncExec)
//   GET  /queries/{id}/result          poll / fetch a statement's result
//   GET  /monitoring/queries/{id}      a statement's status (async execution)
//   POST /queries/{id}/abort-request, /queries/v1/abort-request   cancel
//   GET  /driver-results/{key}/{n}     result chunks beyond the first (capability URLs, as
//                                       Snowflake's presigned chunk URLs are)
//
// Every statement goes through the one pipeline (frontEnd 'driver'), so it is analysed,
// decided, masked in-engine and audited exactly as on the SQL API. A statement waiting for
// an approval looks to the driver like a running query (code 333333, status BLOCKED): a
// synchronous driver call keeps polling and returns once a reviewer approves (or fails with
// the denial as a driver error). A poll of a blocked statement waits on the approval store's
// waitForChange (in a cluster: the ApprovalRequest watch), not by re-reading the request, so
// a decision reaches the waiting driver as soon as the gateway learns of it.
//
// Results: the driver protocol sends a result's metadata (row count, chunk list) before its
// rows, so the pipeline's stream is spooled as it arrives: the first rows (at most
// FIRST_CHUNK_BYTES) stay in memory and are sent inline, the rest go to temporary files of at
// most CHUNK_BYTES each (mode 0600, masked values only, deleted when the result expires or the
// session ends) that the driver downloads from chunk URLs. Memory per statement is bounded by
// FIRST_CHUNK_BYTES plus one pipeline chunk, whatever the result size.
import { randomBytes, randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, createReadStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'winston';
import type { ApprovalService } from '../approvals/service.ts';
import type { ApprovalRequest } from '../api/types.ts';
import { describeApprovers } from '../approvals/validation.ts';
import type { ResultColumn } from '../warehouse/types.ts';
import type { Authenticator } from './auth.ts';
import { CODES, GatewayError, badRequest, internalError, unauthenticated } from './errors.ts';
import type { Identity } from './identity.ts';
import { auditSql, fingerprint, type Pipeline, type ResultSink, type StatementRequest } from './pipeline.ts';
import type { AuditWriter } from '../audit/writer.ts';
import type { SnowflakeType } from '../warehouse/types.ts';

/** Rows kept in memory and sent inline in the first response. */
export const FIRST_CHUNK_BYTES = 64 * 1024;
const FIRST_CHUNK_ROWS = 1000;
/** Size of each spooled chunk file. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** How long a synchronous query-request waits before answering "in progress". */
const SYNC_WAIT_MS = 10_000;
/** How long a GET of a running or pending statement's result waits (long poll). */
const POLL_WAIT_MS = 10_000;
/** A finished result (and its chunk files) is kept this long for fetches and retries. */
const RESULT_TTL_MS = 10 * 60_000;
/** A synchronous statement nobody has polled for this long is cancelled (the driver went away). */
const ABANDONED_MS = 90_000;
const SESSION_VALIDITY_S = 3600;
const MASTER_VALIDITY_S = 4 * 3600;
const MAX_SESSIONS = 10_000;
const MAX_QUERIES = 2_000;
const MAX_BODY = '1mb';
/** Snowflake's statementTypeId for SELECT. */
const STATEMENT_TYPE_SELECT = 0x1000;

/** Snowflake (GS) codes the drivers act on. */
const GS = {
  inProgress: '333333',
  inProgressAsync: '333334',
  badLogin: '390100',
  sessionExpired: '390112',
  goneSession: '390111',
  masterExpired: '390114',
  badRequest: '390400',
} as const;

/** Session parameters a driver reads after login and with each result (formats, time zone). */
const SESSION_PARAMETERS: { name: string; value: string | number | boolean }[] = [
  { name: 'TIMEZONE', value: 'UTC' },
  { name: 'TIMESTAMP_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM' },
  { name: 'TIMESTAMP_NTZ_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3' },
  { name: 'TIMESTAMP_LTZ_OUTPUT_FORMAT', value: '' },
  { name: 'TIMESTAMP_TZ_OUTPUT_FORMAT', value: '' },
  { name: 'DATE_OUTPUT_FORMAT', value: 'YYYY-MM-DD' },
  { name: 'TIME_OUTPUT_FORMAT', value: 'HH24:MI:SS' },
  { name: 'BINARY_OUTPUT_FORMAT', value: 'HEX' },
  { name: 'CLIENT_TIMESTAMP_TYPE_MAPPING', value: 'TIMESTAMP_LTZ' },
  { name: 'CLIENT_SESSION_KEEP_ALIVE', value: false },
  { name: 'CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY', value: 3600 },
  { name: 'CLIENT_PREFETCH_THREADS', value: 4 },
  { name: 'CLIENT_RESULT_CHUNK_SIZE', value: 16 },
  { name: 'QUERY_CONTEXT_CACHE_SIZE', value: 5 },
  { name: 'JS_TREAT_INTEGER_AS_BIGINT', value: false },
  { name: 'AUTOCOMMIT', value: true },
];

interface DriverSession {
  /** The phigate session id audit records carry (and the upstream QUERY_TAG). */
  id: string;
  identity: Identity;
  /** Digest of the phigate credential, re-checked when the session token is renewed. */
  credential: string;
  sessionToken: string;
  masterToken: string;
  sessionExpires: number;
  masterExpires: number;
  role?: string;
  agent: string | null;
  database: string | null;
  schema: string | null;
  warehouse: string | null;
  unmask?: string[];
  justification?: string;
}

type QueryState = 'running' | 'pending' | 'done' | 'failed';

interface DriverQuery {
  id: string;
  requestId?: string;
  session: DriverSession;
  state: QueryState;
  async: boolean;
  request: StatementRequest;
  approval?: { namespace: string; name: string };
  pendingApproval?: ApprovalRequest;
  /** Aborted when a pending statement stops waiting (cancelled): wakes long polls. */
  unblocked?: AbortController;
  result?: SpooledResult;
  error?: GatewayError;
  abort?: AbortController;
  /** Resolves whenever the state leaves 'running'. */
  settled: Promise<void>;
  settle: () => void;
  touched: number;
  finishedAt?: number;
  advancing?: Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Result spooling

interface ChunkFile { path: string; rowCount: number; bytes: number }

/** Driver rowtype metadata for one column (Snowflake's JSON result format). */
export function driverRowType(col: ResultColumn, fixedScale: number) {
  const base = { name: col.name, database: '', schema: '', table: '', nullable: col.nullable, type: col.type, byteLength: null as number | null, length: null as number | null, precision: null as number | null, scale: null as number | null, collation: null };
  switch (col.type) {
    case 'fixed': return { ...base, precision: col.precision ?? 38, scale: col.scale ?? fixedScale };
    case 'text': return { ...base, length: 16_777_216, byteLength: 16_777_216 };
    case 'binary': return { ...base, length: 8_388_608, byteLength: 8_388_608 };
    case 'time': case 'timestamp_ntz': case 'timestamp_tz': case 'timestamp_ltz':
      // Every engine adapter encodes these with exactly nine fraction digits.
      return { ...base, precision: 0, scale: 9 };
    default: return base;
  }
}

/** Digits after the decimal point of a fixed-point value as text. */
function fractionDigits(v: string): number {
  const dot = v.indexOf('.');
  return dot < 0 ? 0 : v.length - dot - 1;
}

/**
 * Takes the pipeline's rows and keeps them for the driver: the first rows in memory, the rest
 * in chunk files. Booleans are re-encoded as the driver format has them ("1"/"0").
 */
export class SpoolSink implements ResultSink {
  columns: ResultColumn[] = [];
  first: string[] = [];
  firstBytes = 0;
  chunks: ChunkFile[] = [];
  total = 0;
  complete = false;
  private fixedScale: number[] = [];
  private booleans: number[] = [];
  private fixed: number[] = [];
  private current?: { file: ChunkFile; out: WriteStream };
  private failed?: Error;

  constructor(private readonly dir: () => string) {}

  start(columns: ResultColumn[]): void {
    this.columns = columns;
    this.fixedScale = columns.map(() => 0);
    this.booleans = columns.flatMap((c, i) => (c.type === 'boolean' ? [i] : []));
    this.fixed = columns.flatMap((c, i) => (c.type === 'fixed' && c.scale === undefined ? [i] : []));
  }

  /** `json[i]`, when given, is JSON.stringify(rows[i]) (the pipeline computes it once). */
  async rows(rows: (string | null)[][], json?: string[]): Promise<void> {
    let batch = '';
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k]!;
      for (const i of this.fixed) {
        const v = row[i];
        if (v != null) { const d = fractionDigits(v); if (d > this.fixedScale[i]!) this.fixedScale[i] = d; }
      }
      // Never modify the pipeline's row in place: the audit record keeps those very arrays.
      let out = row;
      if (this.booleans.length) {
        out = row.slice();
        for (const i of this.booleans) { const v = out[i]; if (v != null) out[i] = v === 'true' || v === '1' || v === 'TRUE' ? '1' : '0'; }
      }
      const text = out === row && json?.[k] !== undefined ? json[k]! : JSON.stringify(out);
      this.total++;
      if (this.chunks.length === 0 && !this.current && this.first.length < FIRST_CHUNK_ROWS && this.firstBytes + text.length + 1 <= FIRST_CHUNK_BYTES) {
        this.first.push(text);
        this.firstBytes += text.length + 1;
        continue;
      }
      if (!this.current || this.current.file.bytes >= CHUNK_BYTES) {
        if (batch) { await this.write(batch); batch = ''; }
        await this.rotate();
      }
      const piece = this.current!.file.rowCount === 0 ? text : `,${text}`;
      this.current!.file.rowCount++;
      this.current!.file.bytes += Buffer.byteLength(piece);
      batch += piece;
    }
    if (batch) await this.write(batch);
  }

  end(summary: { rows: number; complete: boolean }): void {
    this.complete = summary.complete;
  }

  /** Closes the last chunk file; call once the pipeline has returned. */
  async finish(): Promise<void> {
    if (this.current) { const { out } = this.current; this.current = undefined; await closeStream(out); }
    if (this.failed) throw this.failed;
  }

  rowtype() {
    return this.columns.map((c, i) => driverRowType(c, this.fixedScale[i] ?? 0));
  }

  async discard(): Promise<void> {
    if (this.current) { this.current.out.destroy(); this.current = undefined; }
    await Promise.all(this.chunks.map((c) => rm(c.path, { force: true })));
  }

  private async rotate(): Promise<void> {
    if (this.current) { const { out } = this.current; this.current = undefined; await closeStream(out); }
    const file: ChunkFile = { path: join(this.dir(), `${randomUUID()}.json`), rowCount: 0, bytes: 0 };
    const out = createWriteStream(file.path, { mode: 0o600 });
    out.on('error', (e) => { this.failed = e; });
    this.chunks.push(file);
    this.current = { file, out };
  }

  private write(text: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const out = this.current!.out;
    return new Promise((resolve) => { if (out.write(text)) resolve(); else out.once('drain', resolve); });
  }
}

function closeStream(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => { out.end((e?: Error | null) => (e ? reject(e) : resolve())); });
}

interface SpooledResult { sink: SpoolSink; key: string; statementId: string }

// ---------------------------------------------------------------------------------------
// Wire helpers

const ok = (data: unknown) => ({ data, code: null, message: null, success: true });

function fail(code: string, message: string, data: Record<string, unknown> = {}) {
  return { data: { ...data, errorCode: code }, code, message, success: false, headers: null };
}

/** A gateway stop as the driver's error response for a statement. */
function statementError(err: GatewayError, queryId: string) {
  return fail(err.code, `${err.message} (phigate rule ${err.rule})`, {
    internalError: err.status >= 500, age: 0, sqlState: sqlStateOf(err), queryId, line: -1, pos: -1, type: 'COMPILATION',
  });
}

function sqlStateOf(err: GatewayError): string {
  return (err.toBody() as { sqlState: string }).sqlState;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const sameDigest = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
const newToken = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

/** The session token in `Authorization: Snowflake Token="..."`. */
export function snowflakeToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Snowflake\s+Token="([^"]+)"\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Python's cursor.get_results_from_sfqid() fetches an async result with exactly this SQL. */
const RESULT_SCAN = /^\s*select\s+\*\s+from\s+table\s*\(\s*result_scan\s*\(\s*'([0-9a-f-]{36})'\s*\)\s*\)\s*;?\s*$/i;

const ROWSET_PLACEHOLDER = '\u0000rowset';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

// ---------------------------------------------------------------------------------------

export interface DriverDeps {
  pipeline: Pipeline;
  approvals: ApprovalService;
  authenticate: Authenticator;
  log: Logger;
  /** Where result chunks are spooled (default: a private folder under the OS temp dir). */
  spoolDir?: string;
  /** Needed only for the INFORMATION_SCHEMA.COLUMNS view (without it, those queries go to the pipeline). */
  audit?: AuditWriter;
}

export function driverRouter(deps: DriverDeps) {
  const { pipeline, approvals, log } = deps;
  const router = express.Router();
  const sessions = new Map<string, DriverSession>();      // by session token
  const byMaster = new Map<string, DriverSession>();      // by master token
  const queries = new Map<string, DriverQuery>();          // by query id
  const chunkKeys = new Map<string, DriverQuery>();        // by chunk capability key
  let spool: string | undefined = deps.spoolDir;
  const spoolDir = () => {
    if (!spool) {
      spool = mkdtempSync(join(tmpdir(), 'phigate-driver-'));
      const dir = spool;
      process.once('exit', () => { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } });
    }
    return spool;
  };

  const json = express.json({ limit: MAX_BODY, type: () => true });

  // --- housekeeping -------------------------------------------------------------------
  const forget = (q: DriverQuery) => {
    queries.delete(q.id);
    if (q.result) { chunkKeys.delete(q.result.key); void q.result.sink.discard(); }
  };
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const q of queries.values()) {
      if (q.state === 'running' && !q.async && now - q.touched > ABANDONED_MS) {
        log.debug(`driver: cancelling abandoned statement ${q.id}`);
        q.abort?.abort();
      }
      if (q.finishedAt && now - q.finishedAt > RESULT_TTL_MS) forget(q);
      else if (q.state === 'pending' && now - q.touched > RESULT_TTL_MS) forget(q);
    }
    for (const [t, s] of sessions) {
      if (now > s.masterExpires) endSession(s, t);
    }
  }, 5000);
  sweeper.unref();

  function endSession(s: DriverSession, token: string) {
    sessions.delete(token);
    byMaster.delete(s.masterToken);
    for (const q of queries.values()) {
      if (q.session !== s) continue;
      q.abort?.abort();
      forget(q);
    }
  }

  // --- authentication -----------------------------------------------------------------
  const agentOf = (req: Request, fallback: string | null = null) => {
    const ua = req.get('user-agent');
    return ua ? ua.slice(0, 200) : fallback;
  };

  /** The session of a request's session token, or an answer the driver acts on. */
  function sessionOf(req: Request, res: Response): DriverSession | null {
    const token = snowflakeToken(req.get('authorization'));
    const s = token ? sessions.get(token) : undefined;
    if (!token || !s) {
      const err = unauthenticated('no valid session token: log in again');
      pipeline.auditRejected({ frontEnd: 'driver', identity: null, agent: agentOf(req), session: null, sql: '', error: err, outcome: 'unauthenticated' });
      res.status(200).json(fail(GS.goneSession, 'Session no longer exists. New login required to access the service.'));
      return null;
    }
    if (Date.now() > s.sessionExpires) {
      res.status(200).json(fail(GS.sessionExpired, 'Session token expired; renew it with the master token.'));
      return null;
    }
    return s;
  }

  router.post('/session/v1/login-request', json, async (req: Request, res: Response) => {
    const data = (req.body && typeof req.body === 'object' ? (req.body as { data?: Record<string, unknown> }).data : undefined) ?? {};
    const authenticator = String(data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
    const agent = typeof data.CLIENT_APP_ID === 'string'
      ? `${data.CLIENT_APP_ID}${typeof data.CLIENT_APP_VERSION === 'string' ? `/${data.CLIENT_APP_VERSION}` : ''}`.slice(0, 200)
      : agentOf(req);
    const secret = typeof data.PASSWORD === 'string' && data.PASSWORD ? data.PASSWORD : typeof data.TOKEN === 'string' ? data.TOKEN : '';
    const refuse = (message: string) => {
      const err = unauthenticated(message);
      pipeline.auditRejected({ frontEnd: 'driver', identity: null, agent, session: null, sql: '', error: err, outcome: 'unauthenticated' });
      res.status(200).json(fail(GS.badLogin, message, { nextAction: 'RETRY_LOGIN', authnMethod: authenticator }));
    };
    if (!['SNOWFLAKE', 'OAUTH', 'PROGRAMMATIC_ACCESS_TOKEN', 'USERNAME_PASSWORD_MFA'].includes(authenticator)) {
      refuse(`phigate accepts the agent's phigate token as the password (or as an OAuth token); authenticator ${authenticator} is not supported`);
      return;
    }
    if (!secret) { refuse('Incorrect username or password was specified. Send your phigate token as the password.'); return; }
    let identity: Identity | null;
    try { identity = await deps.authenticate(secret); } catch (e) {
      log.error(`driver login: authenticator failed: ${String((e as Error)?.name ?? e)}`);
      res.status(200).json(fail(CODES.internal, 'internal gateway error during login'));
      return;
    }
    if (!identity) { refuse('Incorrect username or password was specified.'); return; }
    const q = req.query;
    const param = (k: string) => (typeof q[k] === 'string' && q[k] ? String(q[k]) : null);
    const sessionParams = (data.SESSION_PARAMETERS && typeof data.SESSION_PARAMETERS === 'object' ? data.SESSION_PARAMETERS : {}) as Record<string, unknown>;
    const now = Date.now();
    const s: DriverSession = {
      id: `s-${randomBytes(6).toString('hex')}`,
      identity,
      credential: digest(secret).toString('hex'),
      sessionToken: newToken('ver:1-hint:phigate-'),
      masterToken: newToken('ver:1-hint:phigate-m-'),
      sessionExpires: now + SESSION_VALIDITY_S * 1000,
      masterExpires: now + MASTER_VALIDITY_S * 1000,
      agent,
      database: param('databaseName'),
      schema: param('schemaName'),
      warehouse: param('warehouse'),
      ...phigateParams(sessionParams),
    };
    // roleName names the AccessPolicy, as "role" does on the SQL API; a Snowflake role that is
    // not one of the agent's policies is ignored (the policy is then chosen as without one).
    const role = param('roleName');
    if (role) {
      const mine = pipeline.policiesFor(identity).map((p) => p.compiled.ref.name);
      const hit = mine.find((n) => n === role) ?? mine.find((n) => n.toUpperCase() === role.toUpperCase());
      if (hit) s.role = hit;
    }
    if (sessions.size >= MAX_SESSIONS) {
      const [oldest, first] = sessions.entries().next().value as [string, DriverSession];
      endSession(first, oldest);
    }
    sessions.set(s.sessionToken, s);
    byMaster.set(s.masterToken, s);
    res.json(ok({
      token: s.sessionToken,
      masterToken: s.masterToken,
      validityInSeconds: SESSION_VALIDITY_S,
      masterValidityInSeconds: MASTER_VALIDITY_S,
      displayUserName: identity.user,
      serverVersion: 'phigate',
      firstLogin: false,
      remMeToken: null,
      remMeValidityInSeconds: 0,
      healthCheckInterval: 45,
      newClientForUpgrade: null,
      sessionId: sessionNumber(s.id),
      parameters: SESSION_PARAMETERS,
      sessionInfo: { databaseName: s.database, schemaName: s.schema, warehouseName: s.warehouse, roleName: s.role ?? role },
      idToken: null,
      idTokenValidityInSeconds: 0,
      responseData: null,
      mfaToken: null,
      mfaTokenValidityInSeconds: 0,
    }));
  });

  router.post('/session/token-request', json, async (req: Request, res: Response) => {
    const master = snowflakeToken(req.get('authorization'));
    const s = master ? byMaster.get(master) : undefined;
    if (!s || Date.now() > s.masterExpires) {
      res.status(200).json(fail(GS.masterExpired, 'Master token expired or unknown: log in again.'));
      return;
    }
    const body = (req.body ?? {}) as { requestType?: string; oldSessionToken?: string };
    if (String(body.requestType ?? '').toUpperCase() === 'ISSUE') {
      res.json(ok({ sessionToken: s.sessionToken, token: s.sessionToken, validityInSeconds: Math.max(0, Math.floor((s.sessionExpires - Date.now()) / 1000)), masterToken: s.masterToken, sessionId: sessionNumber(s.id) }));
      return;
    }
    sessions.delete(s.sessionToken);
    s.sessionToken = newToken('ver:1-hint:phigate-');
    s.sessionExpires = Math.min(s.masterExpires, Date.now() + SESSION_VALIDITY_S * 1000);
    sessions.set(s.sessionToken, s);
    res.json(ok({
      sessionToken: s.sessionToken, token: s.sessionToken,
      validityInSecondsST: SESSION_VALIDITY_S, validityInSeconds: SESSION_VALIDITY_S,
      masterToken: s.masterToken, validityInSecondsMT: Math.floor((s.masterExpires - Date.now()) / 1000),
      masterValidityInSeconds: Math.floor((s.masterExpires - Date.now()) / 1000),
      sessionId: sessionNumber(s.id),
    }));
  });

  router.post('/session/heartbeat', json, (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    res.json(ok({}));
  });

  router.post('/session', json, (req: Request, res: Response) => {
    if (String(req.query.delete ?? '').toLowerCase() !== 'true') {
      res.status(200).json(fail(GS.badRequest, 'unsupported session request'));
      return;
    }
    const token = snowflakeToken(req.get('authorization'));
    const s = token ? sessions.get(token) : undefined;
    if (s && token) endSession(s, token);
    // Deleting an unknown or expired session is not an error to the drivers.
    res.json(ok(null));
  });

  router.post(['/telemetry/send', '/telemetry/send/sessionless'], json, (_req: Request, res: Response) => {
    // Driver telemetry is accepted and dropped: it is not forwarded anywhere.
    res.json(ok('Log Received'));
  });

  // --- statements ---------------------------------------------------------------------
  router.post('/queries/v1/query-request', json, async (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    const body = (req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {}) as Record<string, unknown>;
    const sql = typeof body.sqlText === 'string' ? body.sqlText : '';
    const requestId = typeof req.query.requestId === 'string' ? req.query.requestId : typeof req.query.request_id === 'string' ? req.query.request_id : undefined;
    const agent = s.agent ?? agentOf(req);
    const refuse = (err: GatewayError) => {
      pipeline.auditRejected({ frontEnd: 'driver', identity: s.identity, agent, session: s.id, sql, error: err, outcome: 'denied' });
      res.json(statementError(err, randomUUID()));
    };
    if (!sql.trim()) { refuse(badRequest('sqlText is empty: send one SQL statement')); return; }
    if (hasEntries(body.bindings) || body.bindStage) {
      refuse(badRequest('phigate does not accept bind variables yet: put the values in the SQL text (e.g. the Python connector\'s default pyformat style does this client-side)'));
      return;
    }
    if (body.describeOnly === true) {
      refuse(badRequest('phigate does not support describe-only requests; run the statement with LIMIT 0 instead'));
      return;
    }
    // A retry of the same request (same requestId) joins the statement already running.
    if (requestId) {
      for (const q of queries.values()) {
        if (q.session === s && q.requestId === requestId) { q.touched = Date.now(); await answer(req, res, q, body.asyncExec === true ? 0 : SYNC_WAIT_MS); return; }
      }
    }
    // The Python connector reads an async statement's result with RESULT_SCAN of its id:
    // answer from the kept result of that statement (already audited when it ran).
    const scan = RESULT_SCAN.exec(sql);
    if (scan) {
      const prior = queries.get(scan[1]!.toLowerCase());
      if (prior && prior.session.identity.user === s.identity.user) { prior.touched = Date.now(); await answer(req, res, prior, SYNC_WAIT_MS); return; }
    }
    const catalogColumns = deps.audit ? parseCatalogQuery(sql) : null;
    if (catalogColumns) { await answerCatalog(req, res, s, sql, catalogColumns, agent); return; }
    const params = (body.parameters && typeof body.parameters === 'object' ? body.parameters : {}) as Record<string, unknown>;
    const perStatement = phigateParams(params);
    const timeout = Number(params.STATEMENT_TIMEOUT_IN_SECONDS ?? params.statement_timeout_in_seconds);
    const q = newQuery(s, {
      identity: s.identity, sql, role: s.role, frontEnd: 'driver', agent, session: s.id,
      unmask: perStatement.unmask ?? s.unmask, justification: perStatement.justification ?? s.justification,
      timeoutSec: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
    }, body.asyncExec === true, requestId);
    start(q);
    await answer(req, res, q, q.async ? 0 : SYNC_WAIT_MS);
  });

  router.get('/queries/:id/result', async (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    const q = ownQuery(s, String(req.params.id));
    if (!q) { res.json(fail(CODES.notFound, `no statement ${String(req.params.id)} for this user`)); return; }
    q.touched = Date.now();
    await answer(req, res, q, POLL_WAIT_MS);
  });

  router.get('/monitoring/queries/:id', async (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    const q = ownQuery(s, String(req.params.id));
    if (!q) { res.json(ok({ queries: [] })); return; }
    q.touched = Date.now();
    await advance(q);
    res.json(ok({ queries: [monitoringEntry(q)] }));
  });

  const abortQuery = (q: DriverQuery | undefined) => {
    if (!q) return;
    q.abort?.abort();
    if (q.state === 'pending') {
      q.state = 'failed';
      q.error = new GatewayError(400, '000604', 'cancelled', 'SQL execution canceled');
      q.finishedAt = Date.now();
      q.settle();
      q.unblocked?.abort();
    }
  };
  router.post('/queries/:id/abort-request', json, (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    abortQuery(ownQuery(s, String(req.params.id)));
    res.json(ok(null));
  });
  router.post('/queries/v1/abort-request', json, (req: Request, res: Response) => {
    const s = sessionOf(req, res);
    if (!s) return;
    const rid = (req.body as { requestId?: string } | undefined)?.requestId;
    for (const q of queries.values()) if (q.session === s && rid && q.requestId === rid) abortQuery(q);
    res.json(ok(null));
  });

  router.get('/driver-results/:key/:n', (req: Request, res: Response) => {
    const q = chunkKeys.get(String(req.params.key));
    const n = Number(req.params.n);
    const chunk = q?.result && q.state === 'done' && Number.isInteger(n) ? q.result.sink.chunks[n] : undefined;
    if (!chunk) { res.status(404).type('text/plain').send('no such result chunk (results are kept for 10 minutes)'); return; }
    // Not application/json: snowflake-sdk would parse a chunk (rows without the enclosing [ ]) as a whole document.
    res.status(200).set('content-type', 'text/plain; charset=utf-8').set('content-length', String(chunk.bytes));
    const stream = createReadStream(chunk.path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });

  // Malformed bodies on driver routes get a driver-shaped answer.
  router.use(['/session', '/queries', '/monitoring', '/telemetry'], (err: any, _req: Request, res: Response, next: NextFunction) => {
    if (err?.type === 'entity.parse.failed' || err?.type === 'entity.too.large' || err?.type === 'encoding.unsupported') {
      res.status(200).json(fail(GS.badRequest, err.type === 'entity.too.large' ? `request body larger than ${MAX_BODY}` : 'request body is not valid JSON'));
      return;
    }
    next(err);
  });

  // --- INFORMATION_SCHEMA.COLUMNS: the catalog as the agent's policy allows it ------------
  /**
   * Drivers, SQL tools and phigate's own Snowflake adapter (one gateway in front of another)
   * read the schema from INFORMATION_SCHEMA.COLUMNS. The warehouse's own view would show
   * tables the policy does not allow, so the gateway answers with the tables and columns the
   * policy allows (the MCP front end's list_tables), and audits it as a statement.
   */
  async function answerCatalog(req: Request, res: Response, s: DriverSession, sql: string, wanted: CatalogColumnName[], agent: string | null) {
    const t0 = performance.now();
    let served;
    try {
      served = pipeline.selectPolicy(s.identity, s.role);
    } catch (e) {
      const err = e instanceof GatewayError ? e : internalError();
      pipeline.auditRejected({ frontEnd: 'driver', identity: s.identity, agent, session: s.id, sql, error: err, outcome: 'denied' });
      res.json(statementError(err, randomUUID()));
      return;
    }
    const policy = served.compiled;
    const rows: (string | null)[][] = [];
    for (const ct of [...policy.tables.values()].sort((a, b) => a.display.localeCompare(b.display))) {
      let ordinal = 0;
      for (const c of ct.table.columns) {
        ordinal++;
        if (!ct.allowed.includes(c.name.toUpperCase())) continue;
        const v: Record<CatalogColumnName, string | null> = {
          TABLE_CATALOG: ct.table.database, TABLE_SCHEMA: ct.table.schema, TABLE_NAME: ct.table.name, COLUMN_NAME: c.name,
          ORDINAL_POSITION: String(ordinal), DATA_TYPE: SNOWFLAKE_DATA_TYPE[c.type], IS_NULLABLE: 'YES',
          NUMERIC_PRECISION: c.type === 'fixed' ? '38' : null, NUMERIC_SCALE: c.type === 'fixed' ? '0' : null,
          CHARACTER_MAXIMUM_LENGTH: c.type === 'text' ? '16777216' : null,
        };
        rows.push(wanted.map((w) => v[w]));
      }
    }
    const statementId = randomUUID();
    try {
      deps.audit!.write({
        id: statementId, event: 'statement', session: s.id, frontEnd: 'driver',
        actor: { user: s.identity.user, groups: s.identity.groups, agent },
        policy: { ...policy.ref },
        statement: { sql: auditSql(sql), fingerprint: fingerprint(sql), kind: 'SELECT', tables: ['INFORMATION_SCHEMA.COLUMNS'], columns: wanted.map((w) => `COLUMNS.${w}`) },
        decision: { outcome: 'allowed', rules: ['catalog:policy_view'], reason: `INFORMATION_SCHEMA.COLUMNS answered with the ${rows.length} columns policy ${policy.ref.name} allows` },
        masking: { columns: [], strategies: {} }, approval: null,
        decisionMs: Math.round((performance.now() - t0) * 1000) / 1000, http: { status: 200 },
      });
    } catch {
      res.json(statementError(internalError(), statementId));
      return;
    }
    const sink = new SpoolSink(spoolDir);
    sink.start(wanted.map((w) => ({ name: w, type: CATALOG_COLUMN_TYPE[w], textual: CATALOG_COLUMN_TYPE[w] === 'text', nullable: true, ...(CATALOG_COLUMN_TYPE[w] === 'fixed' ? { precision: 38, scale: 0 } : {}) })));
    await sink.rows(rows);
    sink.end({ rows: rows.length, complete: true });
    await sink.finish();
    const q = newQuery(s, { identity: s.identity, sql, frontEnd: 'driver', agent, session: s.id }, false);
    const key = randomBytes(24).toString('base64url');
    q.result = { sink, key, statementId };
    chunkKeys.set(key, q);
    q.state = 'done';
    q.finishedAt = Date.now();
    res.type('application/json').send(resultBody(req, q));
  }

  // --- the statement lifecycle --------------------------------------------------------
  function newQuery(s: DriverSession, request: StatementRequest, async: boolean, requestId?: string): DriverQuery {
    if (queries.size >= MAX_QUERIES) {
      const victim = [...queries.values()].find((x) => x.state === 'done' || x.state === 'failed');
      if (victim) forget(victim);
    }
    const q: DriverQuery = {
      id: randomUUID(), requestId, session: s, state: 'running', async, request,
      settled: Promise.resolve(), settle: () => {}, touched: Date.now(),
    };
    queries.set(q.id, q);
    return q;
  }

  function ownQuery(s: DriverSession, id: string): DriverQuery | undefined {
    const q = queries.get(id.toLowerCase());
    // Another user's statement is indistinguishable from an unknown one.
    return q && q.session.identity.user === s.identity.user ? q : undefined;
  }

  /** Runs (or, with an approval, re-runs) the statement through the pipeline in the background. */
  function start(q: DriverQuery) {
    q.state = 'running';
    q.settled = new Promise<void>((r) => { q.settle = r; });
    q.abort = new AbortController();
    const sink = new SpoolSink(spoolDir);
    const sreq: StatementRequest = { ...q.request, signal: q.abort.signal, ...(q.approval ? { approvalRef: q.approval } : {}) };
    void (async () => {
      try {
        const outcome = await pipeline.run(sreq, sink);
        if (outcome.kind === 'pending') {
          const a = outcome.approval;
          q.approval = { namespace: a.metadata.namespace!, name: a.metadata.name };
          q.pendingApproval = a;
          q.unblocked = new AbortController();
          q.state = 'pending';
          await sink.discard();
        } else {
          await sink.finish();
          if (!sink.complete) throw internalError();
          const key = randomBytes(24).toString('base64url');
          q.result = { sink, key, statementId: outcome.statementId };
          chunkKeys.set(key, q);
          q.state = 'done';
          q.finishedAt = Date.now();
        }
      } catch (e) {
        await sink.discard().catch(() => {});
        q.error = e instanceof GatewayError ? e : internalError();
        if (!(e instanceof GatewayError)) log.error('driver statement failed', { error: String((e as Error)?.name ?? e) });
        q.state = 'failed';
        q.finishedAt = Date.now();
      } finally {
        q.abort = undefined;
        q.settle();
        // A session that ended while the statement ran leaves nothing behind.
        if (!queries.has(q.id) && q.result) { chunkKeys.delete(q.result.key); void q.result.sink.discard(); }
      }
    })();
  }

  /** A pending statement whose approval has been decided runs now (once). */
  async function advance(q: DriverQuery): Promise<void> {
    if (q.state !== 'pending' || !q.approval) return;
    if (q.advancing) return q.advancing;
    q.advancing = (async () => {
      try {
        const a = await approvals.get(q.approval!.namespace, q.approval!.name);
        if (a && (a.status?.phase ?? 'Pending') === 'Pending' && Date.parse(a.spec.expiresAt) > Date.now()) { q.pendingApproval = a; return; }
        // Decided, expired or gone: the pipeline judges the approval, claims it once, and audits.
        if (q.state === 'pending') start(q);
      } finally {
        q.advancing = undefined;
      }
    })();
    return q.advancing;
  }

  /**
   * Waits (at most `ms`) until the approval changes, the statement is cancelled or the agent
   * hangs up; no later than its expiry, which advance() judges even if no one writes it.
   */
  async function waitForDecision(q: DriverQuery, ms: number, signal: AbortSignal): Promise<void> {
    const a = q.pendingApproval;
    const untilExpiry = a ? Date.parse(a.spec.expiresAt) - Date.now() + 50 : ms;
    const signals = q.unblocked ? AbortSignal.any([signal, q.unblocked.signal]) : signal;
    await approvals.waitForChange(q.approval!.namespace, q.approval!.name, a?.metadata.resourceVersion, Math.max(0, Math.min(ms, untilExpiry)), signals);
  }

  /** Waits up to `waitMs` for the statement to finish, then answers with its state. */
  async function answer(req: Request, res: Response, q: DriverQuery, waitMs: number) {
    let closed = false;
    const gone = new AbortController();
    res.on('close', () => { closed = true; gone.abort(); });
    const deadline = Date.now() + waitMs;
    for (;;) {
      await advance(q);
      if (q.state === 'done' || q.state === 'failed' || closed) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (q.state === 'running') await Promise.race([q.settled, sleep(Math.min(left, 1000))]);
      else if (q.state === 'pending' && q.approval) await waitForDecision(q, left, gone.signal);
      else await sleep(Math.min(left, 250));
      q.touched = Date.now();
    }
    if (closed) return;
    if (q.state === 'failed') { res.json(statementError(q.error ?? internalError(), q.id)); return; }
    if (q.state === 'done') { res.type('application/json').send(resultBody(req, q)); return; }
    res.json(inProgress(q));
  }

  function inProgress(q: DriverQuery) {
    const a = q.state === 'pending' ? q.pendingApproval : undefined;
    const message = a
      ? `Waiting for approval ${a.metadata.name}: ${a.spec.reasons.join('; ')}. ${a.spec.requiredApprovals} approval(s) needed from ${describeApprovers(a.spec.approvers)} (phigate approve ${a.metadata.name} --reason TEXT); expires at ${a.spec.expiresAt}.`
      : 'Query execution in progress.';
    return {
      data: { queryId: q.id, getResultUrl: `/queries/${q.id}/result`, queryAbortsAfterSecs: 300, progressDesc: null, ...(a ? { approvalRequest: a.metadata.name } : {}) },
      code: q.async ? GS.inProgressAsync : GS.inProgress,
      message,
      success: true,
    };
  }

  function monitoringEntry(q: DriverQuery) {
    const status = q.state === 'running' ? 'RUNNING' : q.state === 'pending' ? 'BLOCKED' : q.state === 'done' ? 'SUCCESS' : 'FAILED_WITH_ERROR';
    return {
      id: q.id, status, state: status, sqlText: '', startTime: q.touched, endTime: q.finishedAt ?? 0,
      ...(q.state === 'failed' && q.error ? { errorCode: q.error.code, errorMessage: `${q.error.message} (phigate rule ${q.error.rule})` } : {}),
      ...(q.state === 'pending' && q.pendingApproval ? { errorMessage: `waiting for approval ${q.pendingApproval.metadata.name}` } : {}),
    };
  }

  /** The JSON text of a finished statement's result. */
  function resultBody(req: Request, q: DriverQuery): string {
    const { sink, key } = q.result!;
    const base = `${req.protocol}://${req.get('host')}`;
    const data: Record<string, unknown> = {
      // The inline rows are already JSON text: spliced in below, not re-encoded. First key, so
      // the placeholder's first occurrence in the text is this one.
      rowset: ROWSET_PLACEHOLDER,
      parameters: SESSION_PARAMETERS,
      rowtype: sink.rowtype(),
      total: sink.total,
      returned: sink.total,
      queryId: q.id,
      databaseProvider: null,
      finalDatabaseName: q.session.database,
      finalSchemaName: q.session.schema,
      finalWarehouseName: q.session.warehouse,
      finalRoleName: q.session.role ?? null,
      numberOfBinds: 0,
      arrayBindSupported: false,
      statementTypeId: STATEMENT_TYPE_SELECT,
      version: 1,
      sendResultTime: Date.now(),
      queryResultFormat: 'json',
      phigateStatementId: q.result!.statementId,
    };
    if (sink.chunks.length) {
      data.chunks = sink.chunks.map((c, i) => ({ url: `${base}/driver-results/${key}/${i}`, rowCount: c.rowCount, uncompressedSize: c.bytes, compressedSize: c.bytes }));
      data.chunkHeaders = {};
    }
    return JSON.stringify(ok(data)).replace(JSON.stringify(ROWSET_PLACEHOLDER), () => `[${sink.first.join(',')}]`);
  }

  return router;
}

/** Snowflake's numeric session id, derived from phigate's session id. */
function sessionNumber(id: string): number {
  return parseInt(id.replace(/^s-/, '').slice(0, 12), 16);
}

function hasEntries(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  return typeof v === 'object' ? Object.keys(v as object).length > 0 : true;
}

/** PHIGATE_UNMASK (TABLE.COLUMN list) and PHIGATE_JUSTIFICATION as session or statement parameters. */
function phigateParams(params: Record<string, unknown>): { unmask?: string[]; justification?: string } {
  const get = (k: string) => {
    for (const [name, v] of Object.entries(params)) if (name.toUpperCase() === k && typeof v === 'string' && v.trim()) return v.trim();
    return undefined;
  };
  const unmask = get('PHIGATE_UNMASK');
  const justification = get('PHIGATE_JUSTIFICATION');
  return {
    ...(unmask ? { unmask: unmask.split(',').map((x) => x.trim()).filter((x) => /^[^.\s]+(\.[^.\s]+)+$/.test(x)) } : {}),
    ...(justification ? { justification: justification.slice(0, 2000) } : {}),
  };
}

const CATALOG_COLUMN_TYPE = {
  TABLE_CATALOG: 'text', TABLE_SCHEMA: 'text', TABLE_NAME: 'text', COLUMN_NAME: 'text', ORDINAL_POSITION: 'fixed',
  DATA_TYPE: 'text', IS_NULLABLE: 'text', NUMERIC_PRECISION: 'fixed', NUMERIC_SCALE: 'fixed', CHARACTER_MAXIMUM_LENGTH: 'fixed',
} as const satisfies Record<string, SnowflakeType>;
type CatalogColumnName = keyof typeof CATALOG_COLUMN_TYPE;

const SNOWFLAKE_DATA_TYPE: Record<SnowflakeType, string> = {
  fixed: 'NUMBER', real: 'FLOAT', text: 'TEXT', date: 'DATE', time: 'TIME', timestamp_ntz: 'TIMESTAMP_NTZ',
  timestamp_tz: 'TIMESTAMP_TZ', timestamp_ltz: 'TIMESTAMP_LTZ', boolean: 'BOOLEAN', binary: 'BINARY',
  variant: 'VARIANT', object: 'OBJECT', array: 'ARRAY',
};

/**
 * The columns a plain read of INFORMATION_SCHEMA.COLUMNS asks for, or null when the text is
 * anything else. Accepted: SELECT <known columns> FROM [db.]INFORMATION_SCHEMA.COLUMNS, with an
 * optional WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA' and ORDER BY of known columns (the rows
 * come in table and ordinal order). Anything else goes to the pipeline like any statement.
 */
export function parseCatalogQuery(sql: string): CatalogColumnName[] | null {
  const ident = '(?:"[A-Za-z_]+"|[A-Za-z_]+)';
  const m = new RegExp(
    `^\\s*select\\s+(${ident}(?:\\s*,\\s*${ident})*)\\s+from\\s+(?:${ident}\\s*\\.\\s*)?information_schema\\s*\\.\\s*columns`
    + `(?:\\s+where\\s+table_schema\\s*<>\\s*'INFORMATION_SCHEMA')?`
    + `(?:\\s+order\\s+by\\s+${ident}(?:\\s*,\\s*${ident})*)?\\s*;?\\s*$`, 'i').exec(sql);
  if (!m) return null;
  const cols = m[1]!.split(',').map((c) => c.trim().replace(/"/g, '').toUpperCase());
  return cols.every((c): c is CatalogColumnName => Object.hasOwn(CATALOG_COLUMN_TYPE, c)) ? cols : null;
}
