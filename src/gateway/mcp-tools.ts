// The MCP tools: one McpServer per MCP session, each tool a thin adapter over the pipeline
// (query) or the dry-run explanations (list_tables, describe_table, explain_policy).
// Refusals are tool results with isError and text that says what to change, never protocol
// errors, so the model can read them and try again.
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, Implementation } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Logger } from 'winston';
import type { ResultColumn } from '../warehouse/types.ts';
import type { ApprovalRequest } from '../api/types.ts';
import type { Identity } from './identity.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { Pipeline, ResultSink, RunOutcome } from './pipeline.ts';
import { CODES, GatewayError, badRequest, internalError } from './errors.ts';
import { allowedTable, allowedTables, dryRun, policySummary, scrubNote, SQL_TYPE } from './explain.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** Who is calling: set on every HTTP request by the /mcp router from the bearer token. */
export interface McpCaller { identity: Identity; session: string }

export const MCP_INSTRUCTIONS = `phigate is a policy-enforcing gateway to a clinical data warehouse that holds protected health information (PHI).
Start with list_tables (what you may read, which columns are masked and why) or explain_policy (everything your policy allows).
query runs one read-only SELECT in Snowflake SQL; masked columns are masked inside the warehouse, so filters, joins and aggregates see masked values too.
A refused call says which rule stopped it and what to change. Every call to query is recorded in an audit log.`;

/** Rows shown to the model per query unless it asks for fewer or more (up to MAX_ROWS). */
export const DEFAULT_ROWS = 200;
export const MAX_ROWS = 1000;
/** Characters of row JSON per query result: about 12k tokens, under agents' tool-output limits. */
export const MAX_RESULT_CHARS = 48_000;

const APPROVAL_RETRY = 'To learn whether a pending statement was approved, call query again with the byte-identical sql (and the same unmask and role): it runs once if approved, and otherwise answers pending_approval again';

const HINTS: Record<string, string> = {
  no_policy: 'this credential is not a subject of any AccessPolicy (or not of the one named in role); ask the gateway operator for access',
  policy_ambiguous: 'pass role with the name of one of the policies listed in the message',
  table_not_allowed: 'use only tables that list_tables shows',
  column_not_allowed: 'name only the allowed columns listed in the message (call describe_table); SELECT * is refused when a table has columns you may not read',
  statement_not_allowed: 'send a read-only SELECT',
  not_supported: 'send a read-only SELECT',
  ddl: 'send a read-only SELECT; schema changes are not allowed through the gateway',
  dml: 'send a read-only SELECT; data changes are not allowed through the gateway',
  dml_without_where: 'add a WHERE clause, or better, send a read-only SELECT',
  copy_into: 'send a read-only SELECT; files, stages and unloads are not allowed',
  grant: 'send a read-only SELECT; privileges are managed by the AccessPolicy, not by SQL',
  multi_statement: 'send exactly one statement per call, without a trailing second statement',
  session_change: 'drop SET/USE/ALTER SESSION: the gateway fixes the database, schema and role',
  external_access: 'drop ATTACH/INSTALL/LOAD: only the warehouse behind the gateway is reachable',
  unparsed: 'fix the SQL syntax (unterminated string, quoted name or comment?) and use Snowflake SQL',
  unanalysable: 'rewrite with plain SELECT, JOIN, WHERE, GROUP BY, ORDER BY, CTEs and common functions; the message names the construct that is not supported',
  rewrite_rejected: 'simplify the statement (plain table references, no unusual quoting); nothing ran',
  engine_disagrees: 'simplify quoting and escapes in the statement; nothing ran',
  warehouse_error: 'fix the SQL error the message describes (check names with describe_table)',
  timeout: 'add a LIMIT, narrow the WHERE clause or aggregate; the statement was cancelled',
  unmask_not_applicable: 'list in unmask only masked columns this statement reads, as TABLE.COLUMN',
  unmask_not_allowed: 'remove that column from unmask: the policy never shows it in clear',
  approval_required: 'remove unmask (masked values need no approval) or reshape the statement so no approval condition applies (explain_policy lists them)',
  approval_unavailable: 'remove unmask or reshape the statement: the policy lists no approvers',
  bad_request: 'send one SQL statement in sql',
  internal: 'retry once; if it persists, report the time of the call to the gateway operator',
};

const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });
const json = (v: unknown): CallToolResult => text(JSON.stringify(v));

/** A query result as JSON, rows last and one per line, so a long result stays readable. */
function resultText(meta: Record<string, unknown>, rows: (string | null)[][]): CallToolResult {
  const body = rows.length ? `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]` : '[]';
  return text(`${JSON.stringify(meta).slice(0, -1)},"rows":${body}}`);
}

/** A refusal the model can act on: what stopped the call, under which rule, and what to change. */
export function refusal(err: GatewayError): CallToolResult {
  const hint = HINTS[err.rule] ?? 'change the statement as the message says';
  return { isError: true, content: [{ type: 'text', text: `Refused by phigate (rule ${err.rule}, code ${err.code}): ${err.message}\nWhat to change: ${hint}.` }] };
}

/** The audit's actor.agent: the MCP client's name/version from its initialize request. */
export function agentName(client: Implementation | undefined): string | null {
  if (!client) return null;
  // eslint-disable-next-line no-control-regex
  return `${client.name}/${client.version}`.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
}

const iso = (ms: number, withTime: boolean, zone: boolean) => {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return null;
  const s = d.toISOString();
  return withTime ? (zone ? s : s.slice(0, -1).replace('T', ' ')) : s.slice(0, 10);
};

/** Values as the SQL API sends them, except dates and times, which a model reads better as ISO text. */
export function displayValue(type: ResultColumn['type'], v: string | null): string | null {
  if (v == null) return v;
  switch (type) {
    case 'date': return iso(Number(v) * 86_400_000, false, false) ?? v;
    case 'timestamp_ntz': return iso(Number(v) * 1000, true, false) ?? v;
    case 'timestamp_ltz': case 'timestamp_tz': return iso(Number(v.split(' ')[0]) * 1000, true, true) ?? v;
    case 'time': {
      const s = Number(v);
      if (!Number.isFinite(s)) return v;
      return new Date(s * 1000).toISOString().slice(11, 23);
    }
    default: return v;
  }
}

/** Collects rows for one tool result; stops the statement once the result is big enough. */
class Collector {
  columns: ResultColumn[] = [];
  rows: (string | null)[][] = [];
  statementId = '';
  chars = 0;
  truncated = false;
  /** Thrown from the sink to end the stream; the pipeline records the result as cut off. */
  readonly cutoff = new GatewayError(200, CODES.success, 'mcp_result_cap', 'result cut off at the MCP result size');

  constructor(private readonly maxRows: number) {}

  readonly sink: ResultSink = {
    start: (cols, statementId) => { this.columns = cols; this.statementId = statementId; },
    rows: (chunk) => {
      for (const row of chunk) {
        const shown = row.map((v, i) => displayValue(this.columns[i]?.type ?? 'text', v));
        const size = JSON.stringify(shown).length + 1;
        if (this.rows.length >= this.maxRows || this.chars + size > MAX_RESULT_CHARS) {
          this.truncated = true;
          throw this.cutoff;
        }
        this.rows.push(shown);
        this.chars += size;
      }
    },
    end: () => {},
  };
}

/** A statement that must wait for a reviewer: the request, who reviews it, and how to retry. */
function pendingApproval(ran: RunOutcome | undefined) {
  if (ran?.kind !== 'pending') return null;
  const a: ApprovalRequest = ran.approval;
  const name = `${a.metadata.namespace ?? 'default'}/${a.metadata.name}`;
  return {
    status: 'pending_approval',
    approvalRequest: name,
    reasons: a.spec.reasons,
    approvers: a.spec.approvers.map((x) => `${x.kind}:${x.name}`),
    requiredApprovals: a.spec.requiredApprovals,
    expiresAt: a.spec.expiresAt,
    reviewer: `one of the approvers (never you) reviews it, e.g. with: phigate approve ${name} --reason "..."`,
    retry: 'once it is approved, call query again with the byte-identical sql (and the same unmask and role): it then runs once. Any other statement needs a new approval.',
  };
}

const roleArg = z.string().max(253).optional()
  .describe('Name of the AccessPolicy to use. Only needed when your credential is a subject of more than one policy; the refusal then lists them.');
const unmaskArg = z.array(z.string().regex(/^[^.\s]+(\.[^.\s]+)+$/, 'TABLE.COLUMN')).max(100).optional()
  .describe('Masked columns to see in clear, as TABLE.COLUMN. Only columns the policy lets a reviewer unmask (explain_policy lists them); such a statement needs an approval before it runs. Leave out to get masked values, which need no approval.');
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

export interface McpToolDeps { pipeline: Pipeline; approvals: ApprovalService; log: Logger }

export function createMcpServer(deps: McpToolDeps): McpServer {
  const { pipeline, approvals, log } = deps;
  const server = new McpServer({ name: 'phigate', version: VERSION }, { instructions: MCP_INSTRUCTIONS, capabilities: { tools: {} } });
  const agent = () => agentName(server.server.getClientVersion());
  const callerOf = (extra: { authInfo?: { extra?: Record<string, unknown> } }): McpCaller => {
    const c = extra.authInfo?.extra?.caller as McpCaller | undefined;
    if (!c) throw internalError(); // the router authenticates every request; never reached
    return c;
  };
  /** Run a handler; a GatewayError becomes a refusal, anything else a generic one. */
  const guard = async (tool: string, fn: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof GatewayError) return refusal(e);
      log.error(`mcp tool ${tool} failed`, { error: String((e as Error)?.name ?? e) });
      return refusal(internalError());
    }
  };

  server.registerTool('list_tables', {
    title: 'List tables you may read',
    description: 'List every table your access policy lets you query, with its allowed columns and their types. '
      + 'Masked columns carry the strategy (what you will see instead of the value), what that means for filters, joins and aggregates, and why the column is masked. '
      + 'Tables and columns not listed do not exist for you. Call this first.',
    inputSchema: { role: roleArg },
    annotations: READ_ONLY,
  }, async ({ role }, extra) => guard('list_tables', async () => {
    const { identity } = callerOf(extra);
    const mine = role ? [pipeline.selectPolicy(identity, role)] : pipeline.policiesFor(identity);
    if (mine.length === 0) pipeline.selectPolicy(identity); // throws no_policy with its message
    return json({
      policies: mine.map((s) => ({ policy: s.compiled.ref.name, maxRows: s.compiled.maxRows, tables: allowedTables(s), scrubbed: scrubNote(s.compiled) })),
      ...(mine.length > 1 ? { note: 'you are a subject of several policies: pass role with the policy name to query' } : {}),
    });
  }));

  server.registerTool('describe_table', {
    title: 'Describe one table',
    description: 'Show one table you may read: its allowed columns, their Snowflake types, and for each masked column the strategy, its effect on your queries and why. '
      + 'Names resolve like unquoted SQL names (case-insensitive; unqualified names use the warehouse default database and schema).',
    inputSchema: {
      table: z.string().min(1).max(400).describe('Table name, e.g. PATIENTS or CLINICAL.PUBLIC.PATIENTS'),
      role: roleArg,
    },
    annotations: READ_ONLY,
  }, async ({ table, role }, extra) => guard('describe_table', async () => {
    const served = pipeline.selectPolicy(callerOf(extra).identity, role);
    return json({ policy: served.compiled.ref.name, ...(await allowedTable(served, table)), maxRows: served.compiled.maxRows, scrubbed: scrubNote(served.compiled) });
  }));

  server.registerTool('query', {
    title: 'Run a read-only SQL query',
    description: 'Run one read-only SELECT (Snowflake SQL) through the gateway and get the rows back as {columns, rows}. '
      + 'Values are strings (NULL is null); dates are YYYY-MM-DD and timestamps ISO 8601. '
      + 'Protected columns come back masked (the result says which and how); masking happens inside the warehouse, so WHERE, JOIN, GROUP BY and ORDER BY see the masked values too. '
      + `At most ${DEFAULT_ROWS} rows are returned unless you set max_rows (the policy's maxRows also applies): aggregate or add LIMIT for large results. `
      + 'A refused statement returns an error that names the rule and what to change. Every call is recorded in the audit log.',
    inputSchema: {
      sql: z.string().max(1_000_000).describe('Exactly one SELECT statement in Snowflake SQL, without a trailing second statement.'),
      justification: z.string().max(2000).optional().describe('Why you need this data (for example the ticket you are working on); recorded in the audit log and shown to a reviewer when approval is needed.'),
      unmask: unmaskArg,
      role: roleArg,
      max_rows: z.number().int().min(1).max(MAX_ROWS).optional().describe(`Most rows to return in this result (default ${DEFAULT_ROWS}, at most ${MAX_ROWS}). The statement is cut off after that many.`),
    },
    annotations: { ...READ_ONLY, idempotentHint: false },
  }, async ({ sql, justification, unmask, role, max_rows }, extra) => guard('query', async () => {
    const { identity, session } = callerOf(extra);
    if (sql.trim() === '') {
      const err = badRequest('sql is empty: send one SQL statement');
      pipeline.auditRejected({ frontEnd: 'mcp', identity, agent: agent(), session, sql, error: err, outcome: 'denied' });
      return refusal(err);
    }
    const out = new Collector(max_rows ?? DEFAULT_ROWS);
    let ran: RunOutcome | undefined;
    try {
      // One row more than shown tells the model the result was cut off.
      ran = await pipeline.run({ identity, sql, role, unmask, justification, frontEnd: 'mcp', agent: agent(), session, signal: extra.signal, maxRows: (max_rows ?? DEFAULT_ROWS) + 1 }, out.sink);
    } catch (e) {
      if (e !== out.cutoff) throw e;
    }
    const pending = pendingApproval(ran);
    if (pending) return json(pending);
    // What was masked, from the same pure analysis the pipeline ran (nothing runs again).
    const dry = await dryRun(pipeline.selectPolicy(identity, role), sql, unmask).catch(() => null);
    const notes: string[] = [];
    if (out.truncated) notes.push(`only the first ${out.rows.length} rows are shown: the result was cut off at ${max_rows ?? DEFAULT_ROWS} rows or ${MAX_RESULT_CHARS} characters; aggregate, filter or add LIMIT/OFFSET for the rest`);
    else if (dry && out.rows.length >= dry.maxRows) notes.push(`the policy returns at most ${dry.maxRows} rows per statement; more rows may exist: aggregate or filter`);
    if (dry && Object.keys(dry.outputMasking).length) notes.push('masked columns hold masked values, not the originals; masking happens inside the warehouse, so filters and joins on them compare masked values');
    if (dry?.outputScrubbed.length) notes.push('scrubbed columns are free text in which detected identifiers were replaced by placeholders such as [SSN]; the rest of the text is unchanged');
    return resultText({
      columns: out.columns.map((c) => ({ name: c.name, type: SQL_TYPE[c.type] ?? c.type })),
      numRows: out.rows.length,
      truncated: out.truncated,
      masked: dry?.outputMasking ?? {},
      ...(dry?.outputScrubbed.length ? { scrubbed: dry.outputScrubbed } : {}),
      ...(notes.length ? { note: notes.join('. ') } : {}),
      statementId: out.statementId,
    }, out.rows);
  }));

  server.registerTool('explain_policy', {
    title: 'Explain what you may do',
    description: 'Without sql: everything your access policy allows (statement kinds, tables and columns, masks, guardrails, maxRows, when approval is required). '
      + 'With sql: the decision that statement would get (allowed, masked and which columns, needs approval, or refused with the rule and reason) without running it. '
      + 'Use it to understand a refusal or to plan a query.',
    inputSchema: {
      sql: z.string().max(1_000_000).optional().describe('A statement to check without running it.'),
      unmask: unmaskArg,
      role: roleArg,
    },
    annotations: READ_ONLY,
  }, async ({ sql, unmask, role }, extra) => guard('explain_policy', async () => {
    const served = pipeline.selectPolicy(callerOf(extra).identity, role);
    if (sql === undefined || sql.trim() === '') return json(policySummary(served));
    const d = await dryRun(served, sql, unmask);
    const wouldRun = d.outcome === 'allowed' || d.outcome === 'masked';
    return json({
      decision: d,
      wouldRun,
      note: wouldRun
        ? 'before running, the gateway also rewrites the statement into masked projections and has the warehouse re-read it; those checks can still refuse it (rules rewrite_rejected, engine_disagrees) and the warehouse can reject it (warehouse_error)'
        : d.outcome === 'pending_approval' ? 'needs an approval before it runs: query answers at once with the approval request a reviewer must decide; once approved, the byte-identical statement runs once'
          : `would be refused: ${HINTS[d.rule ?? ''] ?? 'change the statement as the reason says'}`,
    });
  }));

  server.registerTool('approval_status', {
    title: 'Check an approval request',
    description: 'Report the progress of an approval request that query returned for a statement needing a reviewer: '
      + 'its phase (Pending, Approved, Denied, Expired, Executed), approvals so far and needed, reasons and expiry. '
      + 'Approved means: call query again with the byte-identical sql (and the same unmask and role) to run it once.',
    inputSchema: { name: z.string().min(1).max(253).describe('The approval request name (or namespace/name) that query returned.') },
    annotations: READ_ONLY,
  }, async ({ name }, extra) => guard('approval_status', async () => {
    const { identity } = callerOf(extra);
    const found = await approvals.find(name, identity);
    const a = (await approvals.get(found.metadata.namespace!, found.metadata.name)) ?? found;
    const phase = a.status?.phase ?? 'Pending';
    const approved = (a.status?.reviews ?? []).filter((r) => r.decision === 'Approved').length;
    return json({
      approvalRequest: `${a.metadata.namespace}/${a.metadata.name}`,
      phase,
      approvals: approved,
      requiredApprovals: a.spec.requiredApprovals,
      reasons: a.spec.reasons,
      expiresAt: a.spec.expiresAt,
      ...(a.status?.decidedBy ? { decidedBy: a.status.decidedBy, reason: a.status.reason } : {}),
      next: phase === 'Approved' ? APPROVAL_RETRY
        : phase === 'Pending' ? 'still waiting for a reviewer; check again later (reviews take minutes)'
          : phase === 'Executed' ? 'already used: it ran its one statement; a new run needs a new approval'
            : 'this request will not run; change the statement or ask again with a justification',
    });
  }));

  return server;
}
