// Snowflake SQL API v2 front end: POST /api/v2/statements, GET /api/v2/statements/{handle}.
// Results stream: the response is written row by row as the warehouse produces them, and
// resultSetMetaData (which carries numRows) comes last, so memory does not grow with the result.
import { randomUUID, createHash } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { ResultColumn } from '../warehouse/types.ts';
import type { Pipeline, StatementRequest } from './pipeline.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { ApprovalRequest } from '../api/types.ts';
import { describeApprovers } from '../approvals/validation.ts';
import type { Identity } from './identity.ts';
import { CODES, GatewayError, badRequest, internalError } from './errors.ts';
import { LruCache } from './lru.ts';
import type { Logger } from 'winston';

export const MAX_BODY = '1mb';

interface HandleState {
  owner: string;
  state: 'running' | 'done' | 'failed' | 'pending';
  /** For a pending statement: what to run once approved, and under which approval. */
  request?: StatementRequest;
  approval?: { namespace: string; name: string };
  createdOn: number;
  numRows?: number;
  rowType?: ReturnType<typeof rowType>;
  error?: GatewayError;
}

export interface StatementBody {
  statement: string;
  timeout?: number;
  role?: string;
  unmask?: string[];
  justification?: string;
}

export function rowType(cols: ResultColumn[]) {
  return cols.map((c) => ({
    name: c.name, database: '', schema: '', table: '', type: c.type, nullable: c.nullable,
    length: null, precision: null, scale: null, byteLength: null, collation: null,
  }));
}

/** Validate the request body; every problem is a 400 that says what to send instead. */
export function parseStatementBody(body: unknown): StatementBody {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('send a JSON object body such as {"statement": "SELECT 1"} with Content-Type: application/json');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.statement !== 'string') throw badRequest('"statement" is required and must be a string of SQL');
  if (b.statement.trim() === '') throw badRequest('"statement" is empty: send one SQL statement');
  if (b.timeout !== undefined && (typeof b.timeout !== 'number' || !Number.isFinite(b.timeout) || b.timeout < 0)) {
    throw badRequest('"timeout" must be a number of seconds (0 or more)');
  }
  if (b.role !== undefined && typeof b.role !== 'string') throw badRequest('"role" must be the name of an AccessPolicy');
  if (b.unmask !== undefined && (!Array.isArray(b.unmask) || !b.unmask.every((u) => typeof u === 'string' && /^[^.\s]+(\.[^.\s]+)+$/.test(u)))) {
    throw badRequest('"unmask" must be a list of TABLE.COLUMN names');
  }
  if (b.justification !== undefined && (typeof b.justification !== 'string' || b.justification.length > 2000)) {
    throw badRequest('"justification" must be a string of at most 2000 characters');
  }
  return {
    statement: b.statement,
    timeout: b.timeout as number | undefined,
    role: b.role as string | undefined,
    unmask: b.unmask as string[] | undefined,
    justification: b.justification as string | undefined,
  };
}

/** A stable session id per agent credential unless the agent names one. */
export function sessionFor(req: Request, id: Identity, credential: string): string {
  const given = req.get('x-phigate-session');
  if (given && /^[\w.-]{1,64}$/.test(given)) return given;
  return `s-${createHash('sha256').update(`${id.user}\u0000${credential}`).digest('hex').slice(0, 12)}`;
}

export function agentOf(req: Request): string | null {
  const ua = req.get('user-agent');
  return ua ? ua.slice(0, 200) : null;
}

/** The 202 body for a statement waiting on a reviewer: what is awaited and how to go on. */
export function pendingBody(handle: string, a: ApprovalRequest) {
  const name = a.metadata.name;
  return {
    code: CODES.pending,
    message: `Waiting for approval ${name}: ${a.spec.reasons.join('; ')}. ${a.spec.requiredApprovals} approval(s) needed from ${describeApprovers(a.spec.approvers)} `
      + `(phigate approve ${name} --reason TEXT). Poll statementStatusUrl: once approved it runs this statement once; it expires at ${a.spec.expiresAt}.`,
    statementHandle: handle,
    statementStatusUrl: `/api/v2/statements/${handle}`,
    approvalRequest: name,
    approval: {
      name, namespace: a.metadata.namespace, phase: a.status?.phase ?? 'Pending', reasons: a.spec.reasons,
      approvers: a.spec.approvers, requiredApprovals: a.spec.requiredApprovals, approvals: (a.status?.reviews ?? []).filter((r) => r.decision === 'Approved').length,
      expiresAt: a.spec.expiresAt,
    },
  };
}

export function sqlApiRouter(pipeline: Pipeline, approvals: ApprovalService, log: Logger) {
  const router = express.Router();
  const handles = new LruCache<string, HandleState>(10_000);

  /** Run through the pipeline and answer: rows (streamed), 202 pending, or the error. */
  async function execute(req: Request, res: Response, handle: string, state: HandleState, sreq: StatementRequest) {
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(); });
    let started = false;
    let first = true;
    const write = (chunk: string) => new Promise<void>((resolve) => {
      if (res.write(chunk)) resolve(); else res.once('drain', resolve);
    });
    try {
      const outcome = await pipeline.run({ ...sreq, signal: abort.signal }, {
        start(cols) {
          started = true;
          state.state = 'running';
          state.rowType = rowType(cols);
          res.status(200).type('application/json');
          res.write(`{"code":"${CODES.success}","sqlState":"00000","message":"Statement executed successfully.","statementHandle":"${handle}","statementStatusUrl":"/api/v2/statements/${handle}","createdOn":${state.createdOn},"data":[`);
        },
        async rows(_rows, json) {
          if (json.length === 0) return;
          const text = (first ? '' : ',') + json.join(',');
          first = false;
          await write(text);
        },
        end(summary) {
          state.numRows = summary.rows;
          if (!summary.complete) return;
          state.state = 'done';
          res.end(`],"resultSetMetaData":${JSON.stringify({ numRows: summary.rows, format: 'jsonv2', partitionInfo: [{ rowCount: summary.rows }], rowType: state.rowType })}}`);
        },
      });
      if (outcome.kind === 'pending') {
        const a = outcome.approval;
        Object.assign(state, { state: 'pending', request: sreq, approval: { namespace: a.metadata.namespace!, name: a.metadata.name } });
        res.status(202).json(pendingBody(handle, a));
      }
    } catch (e) {
      const err = e instanceof GatewayError ? e : internalError();
      if (!(e instanceof GatewayError)) log.error('statement failed', { error: String((e as Error)?.name ?? e) });
      state.state = 'failed';
      state.error = err;
      if (started) {
        // Headers are gone: cut the connection so the client sees a broken, not a short, result.
        res.destroy();
        return;
      }
      res.status(err.status).json(err.toBody({ statementHandle: handle }));
    }
  }

  router.post('/api/v2/statements', async (req: Request, res: Response) => {
    const id = res.locals.identity as Identity;
    const session = res.locals.session as string;
    const agent = agentOf(req);
    let body: StatementBody;
    try {
      body = parseStatementBody(req.body);
    } catch (e) {
      const err = e as GatewayError;
      pipeline.auditRejected({ frontEnd: 'sqlapi', identity: id, agent, session, sql: typeof req.body?.statement === 'string' ? req.body.statement : '', error: err, outcome: 'denied' });
      res.status(err.status).json(err.toBody());
      return;
    }
    const handle = randomUUID();
    const state: HandleState = { owner: id.user, state: 'running', createdOn: Date.now() };
    handles.set(handle, state);
    await execute(req, res, handle, state, {
      identity: id, sql: body.statement, role: body.role, unmask: body.unmask, justification: body.justification,
      timeoutSec: body.timeout || undefined, frontEnd: 'sqlapi', agent, session,
    });
  });

  router.get('/api/v2/statements/:handle', async (req: Request, res: Response) => {
    const id = res.locals.identity as Identity;
    const handle = String(req.params.handle);
    const h = handles.get(handle);
    // Another user's handle is indistinguishable from an unknown one.
    if (!h || h.owner !== id.user) {
      res.status(404).json(new GatewayError(404, CODES.notFound, 'not_found', 'no statement with this handle for this user').toBody());
      return;
    }
    if (h.state === 'pending' && h.approval && h.request) {
      const a = await approvals.get(h.approval.namespace, h.approval.name);
      if (a && (a.status?.phase ?? 'Pending') === 'Pending') { res.status(202).json(pendingBody(handle, a)); return; }
      // Decided (or gone): the pipeline judges the approval, claims it once, runs, and audits.
      const sreq = { ...h.request, approvalRef: h.approval, agent: agentOf(req) ?? h.request.agent };
      h.state = 'running';
      await execute(req, res, handle, h, sreq);
      return;
    }
    if (h.state === 'failed' && h.error) { res.status(h.error.status).json(h.error.toBody({ statementHandle: handle })); return; }
    if (h.state === 'running') {
      res.status(202).json({ code: CODES.pending, message: 'Statement is still running.', statementHandle: handle, statementStatusUrl: `/api/v2/statements/${handle}` });
      return;
    }
    res.status(410).json(new GatewayError(410, CODES.gone, 'result_not_kept',
      `the statement completed with ${h.numRows ?? 0} rows, streamed in its response; phigate keeps no results, so run the statement again to read them`).toBody({ statementHandle: handle }));
  });

  return router;
}
