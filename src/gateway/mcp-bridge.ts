// `phigate mcp`: an MCP stdio server for agents that only launch stdio servers. It holds no
// warehouse credentials and decides nothing: every tools/list and tools/call goes to a gateway's
// /mcp endpoint over streamable HTTP with the agent's bearer token, so policy, masking and audit
// happen there. The agent's own name/version (from its initialize) is passed on, so the
// gateway's audit records name the agent, "via phigate-bridge". stdout is the MCP channel:
// this module never writes to it except through the stdio transport.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'winston';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MCP_INSTRUCTIONS, VERSION } from './mcp-tools.ts';

export interface BridgeOptions {
  /** Gateway URL (its /mcp endpoint is used; a URL already ending in /mcp is kept). */
  server: string;
  token: string;
  log: Logger;
  input?: Readable;
  output?: Writable;
  /** Longest a forwarded tool call may take before the bridge gives up (default 10 minutes). */
  callTimeoutMs?: number;
}

export function mcpEndpoint(server: string): URL {
  const u = new URL(server);
  if (!/\/mcp\/?$/.test(u.pathname)) u.pathname = `${u.pathname.replace(/\/+$/, '')}/mcp`;
  return u;
}

/** An upstream failure in words the agent's model and its user can act on. */
function describe(e: unknown, endpoint: URL): string {
  if (e instanceof StreamableHTTPError) {
    if (e.code === 401) return `the phigate gateway at ${endpoint} refused the bearer token (401): check the --token given to phigate mcp (or PHIGATE_TOKEN)`;
    return `the phigate gateway at ${endpoint} answered HTTP ${e.code ?? '?'}: ${e.message.slice(0, 300)}`;
  }
  const err = e as Error & { cause?: { code?: string } };
  if (err?.cause?.code === 'ECONNREFUSED' || /fetch failed/.test(String(err?.message))) return `cannot reach the phigate gateway at ${endpoint}: is it running?`;
  return `phigate bridge: ${String(err?.message ?? e).slice(0, 300)}`;
}

/** Serve MCP on stdio until the agent disconnects. */
export async function runStdioBridge(o: BridgeOptions): Promise<void> {
  const endpoint = mcpEndpoint(o.server);
  const server = new Server({ name: 'phigate', version: VERSION }, { capabilities: { tools: {} }, instructions: MCP_INSTRUCTIONS });
  let upstream: Promise<Client> | null = null;

  const connect = (): Promise<Client> => {
    if (upstream) return upstream;
    const agent = server.getClientVersion();
    const client = new Client({ name: agent?.name ?? 'unknown-agent', version: `${agent?.version ?? '?'} via phigate-bridge/${VERSION}` });
    const p = client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${o.token}` } } }))
      .then(() => client);
    upstream = p;
    p.catch(() => { if (upstream === p) upstream = null; });
    return p;
  };
  /** Run against the gateway; a session the gateway no longer knows (404) is opened again once. */
  const forward = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = await connect();
    try {
      return await fn(c);
    } catch (e) {
      if (!(e instanceof StreamableHTTPError && e.code === 404)) throw e;
      o.log.info('gateway session expired; opening a new one');
      if (upstream) { upstream = null; c.close().catch(() => {}); }
      return fn(await connect());
    }
  };

  server.setRequestHandler(ListToolsRequestSchema, async (req) => {
    try {
      return await forward((c) => c.listTools(req.params));
    } catch (e) {
      o.log.error(describe(e, endpoint));
      throw new McpError(ErrorCode.InternalError, describe(e, endpoint));
    }
  });
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    try {
      return await forward((c) => c.callTool(req.params, undefined, { signal: extra.signal, timeout: o.callTimeoutMs ?? 600_000 })) as CallToolResult;
    } catch (e) {
      o.log.error(describe(e, endpoint));
      return { isError: true, content: [{ type: 'text', text: describe(e, endpoint) }] };
    }
  });

  const input = o.input ?? process.stdin;
  const done = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    input.once('end', () => { server.close().catch(() => {}); resolve(); });
  });
  await server.connect(new StdioServerTransport(input, o.output ?? process.stdout));
  o.log.info(`phigate mcp: serving MCP on stdio, forwarding to ${endpoint}`);
  await done;
  // End the gateway session (DELETE) so it does not wait for its idle expiry.
  const open = upstream as Promise<Client> | null; // assigned in the handlers above
  const c = await open?.catch(() => null);
  if (c) {
    await (c.transport as StreamableHTTPClientTransport | undefined)?.terminateSession().catch(() => {});
    await c.close().catch(() => {});
  }
}
