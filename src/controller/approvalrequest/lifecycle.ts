// The ApprovalRequest lifecycle as a pure function of the request and the time:
// - the phase follows the evidence: any denial denies; approvals from enough distinct
//   approvers (reviews, plus the decision's decidedBy) approve; Denied, Expired and Executed
//   are final; a Pending or Approved request past expiresAt is Expired (an approval that was
//   never used expires too);
// - a request is deleted `retention` after it expired, whatever its phase;
// - waiting is an Event and a condition, not a busy loop: the controller looks again when
//   the request expires or is due for deletion.
// Who may decide is not judged here: the API server's admission policy already refused
// anyone who may not (src/approvals/validation.ts holds the same rules for standalone mode).
import type { ApprovalPhase, ApprovalRequest, ApprovalRequestStatus, Condition } from '../../api/types.ts';
import { describeApprovers } from '../../approvals/validation.ts';
import { conditionsEqual, findCondition, setCondition } from '../../kube/conditions.ts';

export const FINAL_PHASES: readonly ApprovalPhase[] = ['Denied', 'Expired', 'Executed'];

export interface LifecycleEvent { type: 'Normal' | 'Warning'; reason: string; message: string }

export interface Lifecycle {
  /** The status to write (phase and the Decided condition only), when it differs from the current one. */
  status?: Pick<ApprovalRequestStatus, 'phase' | 'conditions'>;
  delete: boolean;
  /** When to look again (expiry, or deletion after retention). */
  requeueAfterMs?: number;
  events: LifecycleEvent[];
}

/** Distinct approvers so far, and whether anyone denied. */
export function tally(req: ApprovalRequest): { approvedBy: string[]; deniedBy: string | undefined; denyReason: string | undefined } {
  const s = req.status ?? {};
  const approved = new Set<string>();
  let deniedBy: string | undefined;
  let denyReason: string | undefined;
  for (const r of s.reviews ?? []) {
    if (r.decision === 'Approved') approved.add(r.user);
    else if (!deniedBy) { deniedBy = r.user; denyReason = r.reason; }
  }
  if (s.decision === 'Approved' && s.decidedBy) approved.add(s.decidedBy);
  if (s.decision === 'Denied' && !deniedBy) { deniedBy = s.decidedBy ?? 'a reviewer'; denyReason = s.reason; }
  return { approvedBy: [...approved].sort(), deniedBy, denyReason };
}

export function nextPhase(req: ApprovalRequest, now: Date): ApprovalPhase {
  const cur = req.status?.phase;
  if (cur && FINAL_PHASES.includes(cur)) return cur;
  const t = tally(req);
  if (t.deniedBy) return 'Denied';
  if (now.getTime() >= Date.parse(req.spec.expiresAt)) return 'Expired';
  if (cur === 'Approved' || t.approvedBy.length >= (req.spec.requiredApprovals ?? 1)) return 'Approved';
  return 'Pending';
}

/** The Decided condition: False while waiting (with progress), True once final or approved. */
export function decidedCondition(req: ApprovalRequest, phase: ApprovalPhase): Omit<Condition, 'lastTransitionTime'> {
  const t = tally(req);
  const need = req.spec.requiredApprovals ?? 1;
  const ns = req.metadata.namespace ?? 'default';
  switch (phase) {
    case 'Pending': {
      const progress = t.approvedBy.length ? `${t.approvedBy.length} of ${need} approvals (${t.approvedBy.join(', ')})` : `0 of ${need} approval${need === 1 ? '' : 's'}`;
      return { type: 'Decided', status: 'False', reason: 'WaitingForApproval', message: `${progress}; approvers: ${describeApprovers(req.spec.approvers)}; decide with kubectl phigate approve|deny ${req.metadata.name} -n ${ns} --reason TEXT` };
    }
    case 'Approved':
      return { type: 'Decided', status: 'True', reason: 'Approved', message: `approved by ${t.approvedBy.join(', ') || req.status?.decidedBy || 'the approvers'}; valid for one execution until ${req.spec.expiresAt}` };
    case 'Denied':
      return { type: 'Decided', status: 'True', reason: 'Denied', message: `denied by ${t.deniedBy ?? req.status?.decidedBy ?? 'a reviewer'}${t.denyReason ? `: ${t.denyReason}` : ''}` };
    case 'Expired':
      return { type: 'Decided', status: 'True', reason: 'Expired', message: `${t.approvedBy.length >= need ? 'approved but not used' : 'not decided'} before ${req.spec.expiresAt}` };
    case 'Executed':
      return { type: 'Decided', status: 'True', reason: 'Executed', message: 'the approved statement ran; an approval runs once' };
  }
}

export function lifecycle(req: ApprovalRequest, now: Date, retentionMs: number): Lifecycle {
  const expiresAt = Date.parse(req.spec.expiresAt);
  const deleteAt = expiresAt + retentionMs;
  if (now.getTime() >= deleteAt) return { delete: true, events: [] };

  const phase = nextPhase(req, now);
  const cond = decidedCondition(req, phase);
  const prevCond = findCondition(req.status?.conditions, 'Decided');
  const conditions = setCondition(req.status?.conditions, cond, now);
  const events: LifecycleEvent[] = [];
  const changed = req.status?.phase !== phase || !conditionsEqual(req.status?.conditions, conditions);
  if (prevCond?.reason !== cond.reason || prevCond?.message !== cond.message) {
    // One Event per step a person cares about; repeats are folded by the recorder.
    events.push({ type: phase === 'Denied' ? 'Warning' : 'Normal', reason: cond.reason, message: cond.message });
  }
  const live = phase === 'Pending' || phase === 'Approved';
  const next = live ? expiresAt : deleteAt;
  return {
    ...(changed ? { status: { phase, conditions } } : {}),
    delete: false,
    requeueAfterMs: Math.max(0, next - now.getTime()) + 50,
    events,
  };
}
