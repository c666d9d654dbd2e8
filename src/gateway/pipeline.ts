// The gateway's one pipeline, shared by every front end:
//   select policy → analyse → decide → rewrite → engine cross-check → execute → scan → stream.
// Each stage takes the previous stage's output. A stop at any stage is a GatewayError, and
// every request, stopped or not, leaves exactly one statement record in the audit log,
// written before the first row leaves the gateway.
import { createHash, randomUUID } from 'node:crypto';
import type { AuditWriter } from '../audit/writer.ts';
import type { Decision as AuditDecision, FrontEnd, Masking, Outcome, PolicyRef } from '../audit/record.ts';
import type { MaskStrategy } from '../api/types.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { analyse, Unanalysable, UnknownTable, type StatementFacts } from '../sql/analyse.ts';
import { decide, type Permit } from '../policy/decide.ts';
import { displayColumn, type CompiledPolicy } from '../policy/compile.ts';
import { rewrite, RewriteRejected } from '../rewrite/rewrite.ts';
import { EngineDisagreement, type ResultColumn, type Warehouse } from '../warehouse/types.ts';
import { scrubText, scrubInto, DetectorHits } from '../masking/scan.ts';
import { ALL_DETECTORS } from '../masking/detectors.ts';
import { CODES, GatewayError, forbidden, unanalysable, internalError } from './errors.ts';
import { subjectMatches, type Identity } from './identity.ts';
import { LruCache } from './lru.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { ApprovalRequest } from '../api/types.ts';
import type { ExecutionBinding } from '../approvals/validation.ts';
import type { StatementApproval } from '../audit/record.ts';
import { lex, significant } from '../sql/lexer.ts';

export interface ServedPolicy { compiled: CompiledPolicy; warehouse: Warehouse }

export interface StatementRequest {
  identity: Identity;
  sql: string;
  role?: string;
  unmask?: string[];
  justification?: string;
  timeoutSec?: number;
  frontEnd: FrontEnd;
  agent: string | null;
  session: string;
  signal?: AbortSignal;
  /** A tighter row limit than the policy's, for front ends with small result budgets (MCP). */
  maxRows?: number;
  /** `namespace/name` of the approval this request executes under (polling a pending handle). */
  approvalRef?: { namespace: string; name: string };
}

/** A statement either ran (rows went to the sink) or waits for a reviewer. */
export type RunOutcome =
  | { kind: 'done'; statementId: string }
  | { kind: 'pending'; statementId: string; approval: ApprovalRequest };

/** Where rows go; the front end turns them into its wire format. */
export interface ResultSink {
  start(columns: ResultColumn[], statementId: string): void;
  /**
   * `json[i]` is JSON.stringify(rows[i]), computed once for the audit digest; front ends that
   * send JSON reuse it. May return a promise to apply backpressure.
   */
  rows(rows: (string | null)[][], json: string[]): void | Promise<void>;
  end(summary: { rows: number; complete: boolean }): void;
}

/** Everything decided about a statement before it runs; cached by policy generation + text. */
interface Plan {
  facts: StatementFacts;
  permit: Permit;
  rewrittenSql: string;
  /** Per output column: scan its text cells with detectors? count its cells as masked? */
  scan: boolean[];
  /** Per output column: the masking rule its values come from (the first masked source), or null. */
  maskRule: (string | null)[];
  masking: Masking;
}

const MAX_AUDIT_SQL = 64 * 1024;
/** Stands in the audit record for a value an approval let the agent see unmasked. */
export const UNMASKED_PLACEHOLDER = '[UNMASKED BY APPROVAL]';
const MAX_AUDIT_ROWS = 100;
const DEFAULT_TIMEOUT_SEC = 600;

/** SHA-256 of the exact text: an approval binds to the byte-identical statement. */
export const fingerprint = (sql: string) => createHash('sha256').update(sql).digest('hex');

/** Free text derived from the agent's input (reasons quoting names, column names), as audited. */
export const auditText = (text: string) => scrubText(text, ALL_DETECTORS).text;

/** The SQL as audited: value detectors applied (an agent may type PHI into a literal), capped. */
export function auditSql(sql: string): string {
  const { text } = scrubText(sql.length > MAX_AUDIT_SQL ? sql.slice(0, MAX_AUDIT_SQL) : sql, ALL_DETECTORS);
  return sql.length > MAX_AUDIT_SQL ? `${text}…[truncated ${sql.length - MAX_AUDIT_SQL} chars]` : text;
}

export class Pipeline {
  private readonly plans = new LruCache<string, Plan>(2000);

  constructor(
    private readonly policies: () => ServedPolicy[],
    private readonly audit: AuditWriter,
    private readonly metrics: Metrics,
    private readonly approvals: ApprovalService,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Policies whose subjects include the identity. */
  policiesFor(id: Identity): ServedPolicy[] {
    return this.policies().filter((p) => p.compiled.policy.spec.subjects.some((s) => subjectMatches(s, id, p.compiled.ref.namespace)));
  }

  selectPolicy(id: Identity, role?: string): ServedPolicy {
    const mine = this.policiesFor(id);
    if (role) {
      const named = mine.find((p) => p.compiled.ref.name === role);
      if (!named) throw forbidden('no_policy', `no AccessPolicy named ${role} lists ${id.user} as a subject`);
      return named;
    }
    if (mine.length === 0) throw forbidden('no_policy', `no AccessPolicy lists ${id.user} (or its groups) as a subject`);
    if (mine.length > 1) {
      throw forbidden('policy_ambiguous', `${id.user} is a subject of several policies (${mine.map((p) => p.compiled.ref.name).join(', ')}); name one in "role"`);
    }
    return mine[0]!;
  }

  /** Run one statement end to end, streaming rows to `sink`. Throws GatewayError on a stop. */
  async run(req: StatementRequest, sink: ResultSink): Promise<RunOutcome> {
    const t0 = this.clock();
    const statementId = randomUUID();
    let served: ServedPolicy | undefined;
    let plan: Plan | undefined;
    let facts: StatementFacts | undefined;
    let approval: StatementApproval | null = null;
    const record = (outcome: Outcome, decision: Omit<AuditDecision, 'outcome'>, status: number) => {
      this.writeStatement({ req, statementId, served, facts: plan?.facts ?? facts, outcome, decision, masking: plan?.masking, decisionMs: this.clock() - t0, status, approval });
    };
    try {
      served = this.selectPolicy(req.identity, req.role);
      plan = await this.plan(req, served, (f) => { facts = f; });
    } catch (e) {
      const err = toGatewayError(e);
      this.metrics.denials.inc({ rule: err.rule });
      record(err.status >= 500 ? 'error' : 'denied', { rules: [err.rule], reason: err.message, code: err.rule }, err.status);
      this.metrics.statements.inc({ outcome: err.status >= 500 ? 'error' : 'denied', front_end: req.frontEnd });
      throw err;
    }
    this.metrics.decisionSeconds.observe((this.clock() - t0) / 1000);
    let outcome: Outcome = plan.permit.outcome;
    try {
      const reasons = [...plan.permit.approvalReasons, ...(await this.rowsOverReasons(served, plan))];
      if (reasons.length || req.approvalRef) {
        const waiting = await this.approve(req, served, plan, reasons, statementId);
        if (waiting) {
          approval = { name: waiting.metadata.name, phase: 'Pending' };
          record('pending_approval', { rules: reasons.map((r) => `approval:${r}`), reason: `waiting for approval ${waiting.metadata.name}: ${reasons.join('; ')}` }, 202);
          this.metrics.statements.inc({ outcome: 'pending_approval', front_end: req.frontEnd });
          return { kind: 'pending', statementId, approval: waiting };
        }
        approval = { name: req.approvalRef?.name ?? '', phase: 'Executed' };
        if (outcome === 'pending_approval') outcome = plan.masking.columns.length ? 'masked' : 'allowed';
      }
    } catch (e) {
      const err = toGatewayError(e);
      this.metrics.denials.inc({ rule: err.rule });
      record(err.status >= 500 ? 'error' : 'denied', { rules: [err.rule], reason: err.message, code: err.rule }, err.status);
      this.metrics.statements.inc({ outcome: err.status >= 500 ? 'error' : 'denied', front_end: req.frontEnd });
      throw err;
    }
    let stream;
    try {
      stream = await served.warehouse.execute(plan.rewrittenSql, {
        maxRows: Math.min(plan.permit.maxRows, req.maxRows ?? Infinity),
        timeoutMs: Math.min(req.timeoutSec ?? DEFAULT_TIMEOUT_SEC, 3600) * 1000,
        signal: req.signal,
        tag: statementId,
        session: req.session,
      });
    } catch (e) {
      const err = warehouseError(e, served.warehouse.engine, served.compiled.hashKey);
      this.metrics.upstreamErrors.inc({ engine: served.warehouse.engine });
      record('error', { rules: plan.permit.rules, reason: err.message, code: err.rule }, err.status);
      this.metrics.statements.inc({ outcome: 'error', front_end: req.frontEnd });
      throw err;
    }
    // Output columns are named from the analysis, never by the engine (whose names for
    // unnamed expressions are the rewritten text); a different column count means the engine
    // read another statement than the one analysed.
    if (stream.columns.length !== plan.facts.output.length) {
      stream.cancel();
      const err = unanalysable('engine_disagrees', `the warehouse returns ${stream.columns.length} columns where the gateway's analysis found ${plan.facts.output.length}; the statement was stopped before any row was sent`);
      record('error', { rules: [err.rule], reason: err.message, code: err.rule }, err.status);
      this.metrics.statements.inc({ outcome: 'error', front_end: req.frontEnd });
      throw err;
    }
    const columns = stream.columns.map((c, i) => ({ ...c, name: plan!.facts.output[i]!.name }));
    // The statement record goes out before the first row does; if it cannot, nothing is sent.
    try {
      record(outcome, { rules: plan.permit.rules, reason: reasonFor(plan, served.compiled) }, 200);
    } catch (e) {
      stream.cancel();
      this.metrics.auditWriteFailures.inc();
      throw internalError();
    }
    this.metrics.statements.inc({ outcome, front_end: req.frontEnd });
    await this.stream(req, served, plan, stream, columns, sink, statementId, t0);
    return { kind: 'done', statementId };
  }

  /**
   * Claim an approval for this statement (the one named when polling, else an approved unused
   * one for the same requester, policy and text), or return the request it now waits on.
   */
  private async approve(req: StatementRequest, served: ServedPolicy, plan: Plan, reasons: string[], statementId: string): Promise<ApprovalRequest | null> {
    const policy = served.compiled;
    const binding: ExecutionBinding = { user: req.identity.user, policy: policy.ref.name, fingerprint: fingerprint(req.sql), unmask: [...plan.permit.unmask].map((k) => displayColumn(policy, k)) };
    if (req.approvalRef) {
      if (req.approvalRef.namespace !== policy.ref.namespace) throw forbidden('approval_mismatch', `${req.approvalRef.name} belongs to another namespace`);
      await this.approvals.claim(req.approvalRef.namespace, req.approvalRef.name, binding, statementId, req.session);
      return null;
    }
    const ready = await this.approvals.findApproved(policy, binding);
    if (ready) {
      await this.approvals.claim(policy.ref.namespace, ready.metadata.name, binding, statementId, req.session);
      req.approvalRef = { namespace: policy.ref.namespace, name: ready.metadata.name };
      return null;
    }
    const { request } = await this.approvals.request({
      policy,
      requester: { user: req.identity.user, groups: req.identity.groups, session: req.session },
      statement: {
        sql: req.sql, auditSql: auditSql(req.sql), fingerprint: binding.fingerprint, kind: plan.facts.kind,
        tables: tableNames(plan.facts), columns: plan.facts.columns.map((c) => displayColumn(policy, c)), unmask: binding.unmask,
      },
      reasons,
      justification: req.justification,
      statementId,
    });
    return request;
  }

  /**
   * rowsOver: count the statement's rows up to N+1 before running it (the masked rewrite,
   * wrapped in a bounded count), so the cost is at most one partial extra execution.
   */
  private async rowsOverReasons(served: ServedPolicy, plan: Plan): Promise<string[]> {
    const limits = served.compiled.approval.requiredWhen.flatMap((c) => (c.rowsOver !== undefined ? [c.rowsOver] : []));
    if (limits.length === 0) return [];
    const n = Math.min(...limits);
    const stream = await served.warehouse.execute(`SELECT COUNT(*) FROM (SELECT 1 FROM (\n${withoutTrailingSemicolon(plan.rewrittenSql)}\n) AS phigate_q LIMIT ${n + 1}) AS phigate_c`, { maxRows: 1, timeoutMs: 60_000 });
    let count = 0;
    for await (const chunk of stream.chunks) for (const row of chunk) count = Number(row[0]);
    return count > n ? [`rowsOver ${n}`] : [];
  }

  private async plan(req: StatementRequest, served: ServedPolicy, onFacts: (f: StatementFacts) => void): Promise<Plan> {
    const policy = served.compiled;
    const unmask = [...(req.unmask ?? [])].map((u) => u.toUpperCase()).sort();
    const key = `${policy.ref.namespace}/${policy.ref.name}/${policy.ref.generation}\u0000${unmask.join(',')}\u0000${req.sql}`;
    const cached = this.plans.get(key);
    if (cached) { onFacts(cached.facts); return cached; }

    const catalog = await served.warehouse.catalog();
    let facts: StatementFacts;
    try {
      facts = analyse(req.sql, catalog);
    } catch (e) {
      if (e instanceof UnknownTable) throw forbidden('table_not_allowed', `${e.message} (policy ${policy.ref.name})`, CODES.noSuchObject);
      if (e instanceof Unanalysable) throw unanalysable('unanalysable', `the gateway cannot analyse this statement: ${e.what}. Rewrite it with plain SELECT, JOIN, WHERE, GROUP BY and the usual functions`);
      // Any other failure inside the analyser means a tree shape it does not know: refuse.
      throw unanalysable('unanalysable', 'the gateway cannot analyse this statement (an unexpected construct); rewrite it with plain SELECT, JOIN, WHERE, GROUP BY and the usual functions');
    }
    onFacts(facts);
    const decision = decide(facts, policy, { unmask });
    if (decision.outcome === 'denied') {
      throw decision.status === 422 ? unanalysable(decision.rule, decision.reason) : forbidden(decision.rule, decision.reason);
    }
    const rw = rewrite(req.sql, facts, policy, decision, served.warehouse);
    await served.warehouse.crossCheck(rw.sql, rw.expectation);

    const maskedKeys = new Set([...decision.masks.keys()].filter((k) => !decision.unmask.has(k)));
    const masking: Masking = { columns: [], strategies: {} };
    for (const k of maskedKeys) {
      const name = displayColumn(policy, k);
      masking.columns.push(name);
      masking.strategies[name] = decision.masks.get(k)!.plan.strategy as MaskStrategy;
    }
    const plan: Plan = {
      facts,
      permit: decision,
      rewrittenSql: rw.sql,
      // An output column is exempt from the result scan only when every source is a column
      // the agent was approved to see in clear.
      scan: facts.output.map((o) => !(o.sources.length > 0 && o.sources.every((s) => decision.unmask.has(s)))),
      maskRule: facts.output.map((o) => {
        const src = o.sources.find((k) => maskedKeys.has(k));
        return src ? decision.masks.get(src)!.rule : null;
      }),
      masking,
    };
    this.plans.set(key, plan);
    return plan;
  }

  private async stream(req: StatementRequest, served: ServedPolicy, plan: Plan, stream: Awaited<ReturnType<Warehouse['execute']>>, cols: ResultColumn[], sink: ResultSink, statementId: string, t0: number): Promise<void> {
    const policy = served.compiled;
    // run() has checked that the engine's columns line up one to one with the analysis.
    const scanIdx = cols.flatMap((c, i) => (c.textual && plan.scan[i] ? [i] : []));
    const maskedIdx = plan.maskRule.flatMap((r, i) => (r ? [i] : []));
    const exemptIdx = plan.scan.flatMap((b, i) => (b ? [] : [i]));
    const byRule = new Map<string, number>();
    const cellsPerColumn = new Array<number>(cols.length).fill(0);
    const detectors = policy.detectors;
    const digest = createHash('sha256');
    const kept: (string | null)[][] = [];
    const hits = new DetectorHits();
    let rows = 0;
    let ruleCells = 0;
    let detectorCells = 0;
    let complete = false;
    let failure: unknown;
    sink.start(cols, statementId);
    try {
      for await (const chunk of stream.chunks) {
        const json: string[] = [];
        for (const row of chunk) {
          for (const i of scanIdx) {
            const v = row[i];
            if (v == null) continue;
            const scrubbed = scrubInto(v, detectors, hits);
            if (scrubbed !== v) {
              row[i] = scrubbed;
              detectorCells++;
            }
          }
          for (const i of maskedIdx) if (row[i] != null) cellsPerColumn[i]!++;
          const line = JSON.stringify(row);
          json.push(line);
          if (policy.auditResults !== 'none') digest.update(line).update('\n');
          if (policy.auditResults === 'masked' && kept.length < MAX_AUDIT_ROWS) {
            // Values an approval showed in clear went to the agent, never to the audit log.
            kept.push(exemptIdx.length ? row.map((v, i) => (v !== null && exemptIdx.includes(i) ? UNMASKED_PLACEHOLDER : v)) : row);
          }
        }
        rows += chunk.length;
        await sink.rows(chunk, json);
      }
      complete = true;
    } catch (e) {
      failure = e;
      stream.cancel();
    }
    sink.end({ rows, complete });
    this.metrics.rowsReturned.inc(rows);
    const detectorHits = hits.toJSON() as Record<string, number>;
    for (const [d, n] of Object.entries(detectorHits)) this.metrics.maskedCells.inc({ source: 'detector', name: d }, n);
    for (const i of maskedIdx) {
      const rule = plan.maskRule[i]!;
      byRule.set(rule, (byRule.get(rule) ?? 0) + cellsPerColumn[i]!);
      ruleCells += cellsPerColumn[i]!;
    }
    // Label values are the policy's own rule names: bounded by the policies loaded.
    for (const [rule, n] of byRule) if (n) this.metrics.maskedCells.inc({ source: 'rule', name: rule }, n);
    const durationMs = Math.round((this.clock() - t0) * 1000) / 1000;
    this.metrics.requestSeconds.observe({ outcome: plan.permit.outcome }, durationMs / 1000);
    this.audit.write({
      event: 'result',
      session: req.session,
      statementId,
      result: {
        rows,
        complete,
        digest: policy.auditResults === 'none' ? null : `sha256:${digest.digest('hex')}`,
        maskedCells: ruleCells + detectorCells,
        maskedCellsByRule: Object.fromEntries(byRule),
        detectorHits,
        ...(policy.auditResults === 'masked' ? { columns: cols.map((c) => auditText(c.name)), values: kept } : {}),
      },
      durationMs,
    });
    if (failure) throw warehouseError(failure, served.warehouse.engine, policy.hashKey);
  }

  /** Audit a request that never reached policy selection (bad body, no credentials). */
  auditRejected(args: { frontEnd: FrontEnd; identity: Identity | null; agent: string | null; session: string | null; sql: string; error: GatewayError; outcome: Outcome }): void {
    this.metrics.statements.inc({ outcome: args.outcome, front_end: args.frontEnd });
    this.audit.write({
      event: 'statement',
      session: args.session,
      frontEnd: args.frontEnd,
      actor: { user: args.identity?.user ?? null, groups: args.identity?.groups ?? [], agent: args.agent },
      policy: null,
      statement: { sql: auditSql(args.sql), fingerprint: args.sql ? fingerprint(args.sql) : null, kind: null, tables: [], columns: [] },
      decision: { outcome: args.outcome, rules: [args.error.rule], reason: auditText(args.error.message), code: args.error.rule },
      masking: { columns: [], strategies: {} },
      approval: null,
      decisionMs: 0,
      http: { status: args.error.status },
    });
  }

  private writeStatement(a: {
    req: StatementRequest; statementId: string; served?: ServedPolicy; facts?: StatementFacts; outcome: Outcome;
    decision: Omit<AuditDecision, 'outcome'>; masking?: Masking; decisionMs: number; status: number; approval: StatementApproval | null;
  }): void {
    const policy = a.served?.compiled;
    const ref: PolicyRef | null = policy ? { ...policy.ref } : null;
    this.audit.write({
      id: a.statementId,
      event: 'statement',
      session: a.req.session,
      frontEnd: a.req.frontEnd,
      actor: { user: a.req.identity.user, groups: a.req.identity.groups, agent: a.req.agent },
      policy: ref,
      statement: {
        sql: auditSql(a.req.sql),
        fingerprint: fingerprint(a.req.sql),
        kind: a.facts?.kind ?? null,
        tables: a.facts ? tableNames(a.facts) : [],
        columns: (a.facts?.columns ?? []).map((c) => (policy ? displayColumn(policy, c) : c)),
      },
      decision: { outcome: a.outcome, ...a.decision, reason: auditText(a.decision.reason) },
      masking: a.masking ?? { columns: [], strategies: {} },
      approval: a.approval,
      decisionMs: Math.round(a.decisionMs * 1000) / 1000,
      http: { status: a.status },
    });
  }
}

function tableNames(facts: StatementFacts): string[] {
  return [...new Set(facts.tables.map((t) => `${t.table.database}.${t.table.schema}.${t.table.name}`.toUpperCase()))];
}

/** The text up to its last meaningful token, without a final `;` (it is about to be wrapped). */
function withoutTrailingSemicolon(sql: string): string {
  const sig = significant(lex(sql));
  const last = sig[sig.length - 1];
  return last && last.type === 'symbol' && last.text === ';' ? sql.slice(0, last.start) : sql;
}

function reasonFor(plan: Plan, policy: CompiledPolicy): string {
  if (plan.masking.columns.length) return `allowed by ${policy.ref.name}; masked ${plan.masking.columns.join(', ')}`;
  return `allowed by ${policy.ref.name}`;
}

function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  if (e instanceof RewriteRejected) return unanalysable('rewrite_rejected', `the gateway could not confirm its masked rewrite of this statement (${e.message}); it was not run`);
  if (e instanceof EngineDisagreement) return unanalysable('engine_disagrees', `the warehouse reads this statement differently from the gateway's analysis (${e.message}); it was not run`);
  return internalError();
}

/** Warehouse errors carry no values here (masking is in-engine), but scrub them all the same. */
function warehouseError(e: unknown, engine: string, hashKey?: string): GatewayError {
  if (e instanceof GatewayError) return e;
  let raw = e instanceof Error ? e.message : String(e);
  // The rewritten text may carry the hash key; an engine error that quotes it must not.
  if (hashKey) raw = raw.split(hashKey).join('[KEY]');
  if (/timeout|interrupt/i.test(raw)) return new GatewayError(504, CODES.timeout, 'timeout', 'the statement reached its timeout and was cancelled');
  const { text } = scrubText(raw.split('\n')[0]!.slice(0, 500), ALL_DETECTORS);
  return new GatewayError(422, CODES.warehouse, 'warehouse_error', `${engine} rejected the statement: ${text}`);
}
