// The express app: health, readiness, metrics, authentication, and the front ends. The only
// file (with the front-end routers) that knows HTTP.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'winston';
import type { Metrics } from '../metrics/metrics.ts';
import type { Pipeline } from './pipeline.ts';
import type { Authenticator } from './auth.ts';
import { bearerToken } from './auth.ts';
import { GatewayError, badRequest, unauthenticated, CODES } from './errors.ts';
import { MAX_BODY, sqlApiRouter, sessionFor, agentOf } from './sqlapi.ts';
import { mcpRouter } from './mcp.ts';
import type { FrontEnd } from '../audit/record.ts';
import { approvalsRouter } from './approvals-api.ts';
import { driverRouter } from './driver.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { AuditWriter } from '../audit/writer.ts';

export interface AppDeps {
  pipeline: Pipeline;
  approvals: ApprovalService;
  metrics: Metrics;
  authenticate: Authenticator;
  log: Logger;
  ready: () => boolean;
  /** The audit writer, for front ends that answer without the pipeline (driver INFORMATION_SCHEMA view). */
  audit?: AuditWriter;
}

export function createApp(deps: AppDeps) {
  const { pipeline, metrics, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Request log at debug level: method, path, status, time; never headers or bodies.
  app.use((req, res, next) => {
    const t0 = performance.now();
    res.on('close', () => log.debug(`${req.method} ${req.path} ${res.statusCode}${res.writableFinished ? '' : ' (connection closed early)'} ${(performance.now() - t0).toFixed(1)}ms`));
    next();
  });
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok'); });
  app.get('/readyz', (_req, res) => {
    if (deps.ready()) res.type('text/plain').send('ready');
    else res.status(503).type('text/plain').send('not ready: policies or warehouses still loading');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Authenticate before reading the body: an unauthenticated caller gets 401 whatever it sent.
  const authnFor = (frontEnd: FrontEnd) => async (req: Request, res: Response, next: NextFunction) => {
    res.locals.frontEnd = frontEnd;
    try {
      const token = bearerToken(req.get('authorization'));
      const id = token ? await deps.authenticate(token) : null;
      if (!id || !token) {
        const err = unauthenticated(token ? 'the bearer token is not valid' : 'send Authorization: Bearer <token>');
        pipeline.auditRejected({ frontEnd, identity: null, agent: agentOf(req), session: null, sql: '', error: err, outcome: 'unauthenticated' });
        res.status(401).set('WWW-Authenticate', 'Bearer realm="phigate"').json(err.toBody());
        return;
      }
      res.locals.identity = id;
      res.locals.session = sessionFor(req, id, token);
      next();
    } catch (e) {
      next(e);
    }
  };
  const authn = authnFor('sqlapi');

  app.use('/api/v2', authn, express.json({ limit: MAX_BODY, type: () => true }));
  app.use(sqlApiRouter(pipeline, deps.approvals, log));
  app.use('/mcp', authnFor('mcp'), mcpRouter(pipeline, deps.approvals, log));
  app.use('/api/v1/approvals', authn, express.json({ limit: '64kb', type: () => true }), approvalsRouter(deps.approvals));
  // Snowflake driver protocol: its own login and session tokens (the agent's token is the password).
  app.use(driverRouter({ pipeline, approvals: deps.approvals, authenticate: deps.authenticate, log, audit: deps.audit }));

  // Body-parser failures (malformed JSON, too large) and anything unexpected end here.
  app.use((err: any, req: Request, res: Response, _next: NextFunction) => {
    let e: GatewayError;
    if (err instanceof GatewayError) e = err;
    else if (err?.type === 'entity.parse.failed') e = badRequest('the body is not valid JSON: send {"statement": "..."}');
    else if (err?.type === 'entity.too.large') e = new GatewayError(413, CODES.tooLarge, 'too_large', `the request body is larger than ${MAX_BODY}; send a shorter statement`);
    else {
      log.error('unhandled request error', { error: String(err?.name ?? err) });
      e = new GatewayError(500, CODES.internal, 'internal', 'internal gateway error');
    }
    if (res.locals.identity) {
      pipeline.auditRejected({ frontEnd: res.locals.frontEnd ?? 'sqlapi', identity: res.locals.identity, agent: agentOf(req), session: res.locals.session ?? null, sql: '', error: e, outcome: e.status >= 500 ? 'error' : 'denied' });
    }
    if (!res.headersSent) res.status(e.status).json(e.toBody());
  });
  return app;
}
