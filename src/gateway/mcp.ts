// MCP front end: streamable HTTP at /mcp with the official SDK, mounted behind the gateway's
// bearer-token middleware (http.ts), so every HTTP request of a session is authenticated and
// a refused one is audited like any other front end's.
//
// Sessions, not stateless mode: the MCP client names itself (name/version) only in its
// initialize request, and the audit record of every later tool call must carry it in
// actor.agent. So each MCP session gets its own McpServer + transport, kept in memory and
// bound to the user that opened it: another credential presenting the session id gets 404,
// as does an unknown or expired session (the MCP client then initializes a new one). Sessions
// are capped in number and expire when idle. A replicated gateway needs session affinity for
// /mcp, or clients re-initialize when a request lands on another replica.
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'winston';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Identity } from './identity.ts';
import type { Pipeline } from './pipeline.ts';
import { createMcpServer, type McpCaller } from './mcp-tools.ts';
import type { ApprovalService } from '../approvals/service.ts';

export interface McpOptions {
  /** Sessions held at once (all users); the least recently used is closed beyond it. */
  maxSessions?: number;
  /** Sessions held at once per user; that user's least recently used is closed beyond it. */
  maxSessionsPerUser?: number;
  /** A session unused this long is closed. */
  idleMs?: number;
}

interface Session { transport: StreamableHTTPServerTransport; server: McpServer; owner: string; lastSeen: number }

/** Largest JSON-RPC request body read (a query's SQL is capped at 1 MB like the SQL API's). */
const MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024;

const rpcError = (res: Response, status: number, code: number, message: string) => {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
};

export function mcpRouter(pipeline: Pipeline, approvals: ApprovalService, log: Logger, opts: McpOptions = {}) {
  const maxSessions = opts.maxSessions ?? 1000;
  const maxPerUser = opts.maxSessionsPerUser ?? 32;
  const idleMs = opts.idleMs ?? 30 * 60_000;
  // Map order is recency order: a used session is re-inserted at the end.
  const sessions = new Map<string, Session>();

  const drop = (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    s.server.close().catch(() => {});
  };
  const admit = (id: string, s: Session) => {
    const mine = [...sessions.entries()].filter(([, v]) => v.owner === s.owner);
    if (mine.length >= maxPerUser) drop(mine[0]![0]);
    if (sessions.size >= maxSessions) drop(sessions.keys().next().value!);
    sessions.set(id, s);
  };
  setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const [id, s] of sessions) if (s.lastSeen < cutoff) drop(id);
  }, Math.min(idleMs, 60_000)).unref();

  const router = express.Router();
  router.all('/', async (req: Request, res: Response) => {
    const identity = res.locals.identity as Identity;
    const caller: McpCaller = { identity, session: res.locals.session as string };
    // The SDK hands req.auth to tool handlers as extra.authInfo: each call acts as the
    // credential presented on its own HTTP request.
    (req as Request & { auth?: AuthInfo }).auth = { token: '', clientId: identity.user, scopes: [], extra: { caller } };
    try {
      // No server-initiated messages are sent, so no standalone SSE stream (the spec allows 405).
      if (req.method === 'GET') { res.status(405).set('Allow', 'POST, DELETE').end(); return; }
      const sid = req.get('mcp-session-id');
      if (sid !== undefined) {
        const s = sessions.get(sid);
        // Another user's session is indistinguishable from an unknown one.
        if (!s || s.owner !== identity.user) { rpcError(res, 404, -32001, 'session not found: start a new MCP session (initialize)'); return; }
        s.lastSeen = Date.now();
        sessions.delete(sid);
        sessions.set(sid, s);
        await s.transport.handleRequest(req, res);
        return;
      }
      if (req.method !== 'POST') { rpcError(res, 400, -32000, 'send an initialize request with POST to start a session'); return; }
      // A new session: the transport accepts only an initialize request here (400 otherwise).
      const server = createMcpServer({ pipeline, approvals, log });
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => admit(id, { transport, server, owner: identity.user, lastSeen: Date.now() }),
        onsessionclosed: (id) => { sessions.delete(id); },
        maxRequestBodySize: MAX_BODY_BYTES,
      });
      transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
      await server.connect(transport);
      await transport.handleRequest(req, res);
      if (!transport.sessionId) await server.close();
    } catch (e) {
      log.error('mcp request failed', { error: String((e as Error)?.name ?? e) });
      if (!res.headersSent) rpcError(res, 500, -32603, 'internal gateway error');
    }
  });
  return router;
}
