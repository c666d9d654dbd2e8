// The approval lifecycle over an ApprovalStore: request, review, claim for execution, expire.
// Every step is audited (event "approval", linked to the requesting statement record) and
// counted; the rules themselves live in validation.ts.
import { randomBytes } from 'node:crypto';
import type { ApprovalDecision, ApprovalRequest } from '../api/types.ts';
import { API_VERSION } from '../api/types.ts';
import type { AuditWriter } from '../audit/writer.ts';
import type { ApprovalAction } from '../audit/record.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { CODES, GatewayError } from '../gateway/errors.ts';
import { ConflictError, type ApprovalStore } from './store.ts';
import {
  executionRefusal, expired, isApprover, phaseOf, reviewRefusal, withReview, type ExecutionBinding, type Reviewer,
} from './validation.ts';

export const STATEMENT_ID_ANNOTATION = 'phigate.io/statement-id';
export const POLICY_GENERATION_ANNOTATION = 'phigate.io/policy-generation';

export interface NewRequest {
  policy: CompiledPolicy;
  requester: { user: string; groups: string[]; session: string };
  statement: { sql: string; auditSql: string; fingerprint: string; kind: string; tables: string[]; columns: string[]; unmask: string[] };
  reasons: string[];
  justification?: string;
  statementId: string;
}

export class ApprovalService {
  constructor(
    private readonly store: ApprovalStore,
    private readonly audit: AuditWriter,
    private readonly metrics: Metrics,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A pending request for this exact statement, reused if one is already waiting. */
  async request(n: NewRequest): Promise<{ request: ApprovalRequest; created: boolean }> {
    const binding = bindingOf(n);
    const ns = n.policy.ref.namespace;
    const waiting = (await this.store.list(ns)).find((r) => phaseOf(r) === 'Pending' && !expired(r, this.now()) && executionRefusal(r, binding, this.now())?.rule === 'approval_pending');
    if (waiting) return { request: waiting, created: false };
    const now = this.now();
    const req: ApprovalRequest = {
      apiVersion: API_VERSION,
      kind: 'ApprovalRequest',
      metadata: {
        name: `${n.policy.ref.name}-${randomBytes(3).toString('hex')}`.slice(0, 63),
        namespace: ns,
        annotations: { [STATEMENT_ID_ANNOTATION]: n.statementId, [POLICY_GENERATION_ANNOTATION]: String(n.policy.ref.generation) },
      },
      spec: {
        policyRef: { name: n.policy.ref.name },
        requester: n.requester,
        // The reviewer reads the statement as audited: detector matches in literals scrubbed.
        statement: { sql: n.statement.auditSql, fingerprint: n.statement.fingerprint, kind: n.statement.kind, tables: n.statement.tables, columns: n.statement.columns, unmask: n.statement.unmask },
        reasons: n.reasons,
        ...(n.justification ? { justification: n.justification } : {}),
        approvers: n.policy.approval.approvers.map((a) => ({ ...a })),
        requiredApprovals: n.policy.approval.requiredApprovals,
        expiresAt: new Date(now.getTime() + n.policy.approval.ttlMs).toISOString(),
      },
      status: { phase: 'Pending', reviews: [] },
    };
    const created = await this.store.create(req);
    this.record('requested', created, { reviewer: null, decision: null, reason: n.reasons.join('; ') }, n.requester.session);
    await this.refreshPending();
    return { request: created, created: true };
  }

  /** An approved, unused request for this exact statement, if one exists. */
  async findApproved(policy: CompiledPolicy, binding: ExecutionBinding): Promise<ApprovalRequest | undefined> {
    return (await this.store.list(policy.ref.namespace)).find((r) => executionRefusal(r, binding, this.now()) === null);
  }

  /** Mark the approval Executed for this statement, exactly once; throws GatewayError otherwise. */
  async claim(namespace: string, name: string, binding: ExecutionBinding, statementId: string, session: string): Promise<ApprovalRequest> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const req = await this.store.get(namespace, name);
      if (!req) throw new GatewayError(404, CODES.notFound, 'approval_not_found', `no approval request ${name}`);
      const refusal = executionRefusal(req, binding, this.now());
      if (refusal) throw new GatewayError(refusal.rule === 'approval_used' ? 410 : 403, CODES.notAuthorized, refusal.rule, refusal.reason);
      try {
        const done = await this.store.updateStatus({ ...req, status: { ...req.status, phase: 'Executed' } });
        this.record('executed', done, { reviewer: null, decision: done.status?.decision ?? null, reason: null }, session, statementId);
        this.metrics.approvalDecisions.inc({ outcome: 'executed' });
        return done;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        // Someone changed it in between (another poller, another replica): the store now holds
        // the newer version; read it and judge again.
      }
    }
    throw new GatewayError(409, CODES.notAuthorized, 'approval_conflict', `${name} kept changing while being claimed; try again`);
  }

  async review(ref: string, reviewer: Reviewer, decision: ApprovalDecision, reason: string): Promise<ApprovalRequest> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const req = await this.find(ref, reviewer);
      const now = this.now();
      await this.expireIfDue(req);
      const current = (await this.store.get(req.metadata.namespace!, req.metadata.name))!;
      const refusal = reviewRefusal(current, reviewer, now);
      if (refusal) throw new GatewayError(refusal.status, CODES.notAuthorized, refusal.status === 403 ? 'review_forbidden' : 'review_conflict', refusal.reason);
      try {
        const next = await this.store.updateStatus(withReview(current, reviewer, decision, reason, now));
        this.record('reviewed', next, { reviewer: reviewer.user, decision, reason }, current.spec.requester.session ?? null);
        const phase = phaseOf(next);
        if (phase !== 'Pending') {
          this.metrics.approvalDecisions.inc({ outcome: phase.toLowerCase() });
          this.metrics.approvalDecisionSeconds.observe((now.getTime() - Date.parse(next.metadata.creationTimestamp ?? now.toISOString())) / 1000);
        }
        await this.refreshPending();
        return next;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
    throw new GatewayError(409, CODES.notAuthorized, 'review_conflict', 'the request kept changing; try again');
  }

  /** `name` or `namespace/name`, visible to `who` (requester or approver); else 404. */
  async find(ref: string, who: Reviewer): Promise<ApprovalRequest> {
    const [ns, name] = ref.includes('/') ? ref.split('/', 2) as [string, string] : [undefined, ref];
    const all = (await this.store.list(ns)).filter((r) => r.metadata.name === name);
    const visible = all.filter((r) => r.spec.requester.user === who.user || isApprover(r.spec.approvers, who));
    if (visible.length === 0) throw new GatewayError(404, CODES.notFound, 'approval_not_found', `no approval request ${ref} that you requested or may review`);
    if (visible.length > 1) throw new GatewayError(409, CODES.notAuthorized, 'approval_ambiguous', `several namespaces have ${ref}; give namespace/name`);
    return visible[0]!;
  }

  async listVisible(who: Reviewer): Promise<ApprovalRequest[]> {
    await this.sweep();
    return (await this.store.list()).filter((r) => r.spec.requester.user === who.user || isApprover(r.spec.approvers, who));
  }

  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    const r = await this.store.get(namespace, name);
    if (r) await this.expireIfDue(r);
    return this.store.get(namespace, name);
  }

  /**
   * Resolves with the request once it differs from version `resourceVersion` (decided,
   * reviewed, expired, gone), or after `timeoutMs` / on abort: how a front end waits for a
   * decision without re-reading the request in a loop.
   */
  waitForChange(namespace: string, name: string, resourceVersion: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ApprovalRequest | undefined> {
    return this.store.waitForChange(namespace, name, resourceVersion, timeoutMs, signal);
  }

  /** Expire what is due. Called on a timer and before every read that decides something. */
  async sweep(): Promise<void> {
    for (const r of await this.store.list()) await this.expireIfDue(r);
  }

  private async expireIfDue(r: ApprovalRequest): Promise<void> {
    const phase = phaseOf(r);
    if ((phase !== 'Pending' && phase !== 'Approved') || !expired(r, this.now())) return;
    try {
      const next = await this.store.updateStatus({ ...r, status: { ...r.status, phase: 'Expired' } });
      this.record('expired', next, { reviewer: null, decision: null, reason: `not ${phase === 'Pending' ? 'decided' : 'used'} before ${r.spec.expiresAt}` }, r.spec.requester.session ?? null);
      this.metrics.approvalDecisions.inc({ outcome: 'expired' });
      await this.refreshPending();
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }

  private async refreshPending(): Promise<void> {
    this.metrics.approvalsPending.set((await this.store.list()).filter((r) => phaseOf(r) === 'Pending').length);
  }

  private record(action: ApprovalAction, r: ApprovalRequest, a: { reviewer: string | null; decision: ApprovalDecision | null; reason: string | null }, session: string | null, statementId?: string): void {
    this.audit.write({
      event: 'approval',
      session,
      statementId: statementId ?? r.metadata.annotations?.[STATEMENT_ID_ANNOTATION] ?? '',
      action,
      policy: { namespace: r.metadata.namespace ?? 'default', name: r.spec.policyRef.name, generation: Number(r.metadata.annotations?.[POLICY_GENERATION_ANNOTATION] ?? 0) },
      approval: { name: r.metadata.name, ...a },
    });
    this.metrics.auditRecords.inc({ event: 'approval' });
  }
}

export function bindingOf(n: Pick<NewRequest, 'policy' | 'requester' | 'statement'>): ExecutionBinding {
  return { user: n.requester.user, policy: n.policy.ref.name, fingerprint: n.statement.fingerprint, unmask: n.statement.unmask };
}
