// The approval rules, pure, shared by the standalone store, the controller and `phigate
// approve`. Each invariant is stated once here (cert-manager style): a decision is made only
// by a listed approver, never by the requester, once per reviewer; the phase follows the
// reviews (quorum of distinct approvers, any denial is final); an approval executes one
// statement, for the requester, under the policy and fingerprint it was granted for, once,
// before it expires.
import type { ApprovalDecision, ApprovalPhase, ApprovalRequest, Approver, Review } from '../api/types.ts';

export interface Reviewer { user: string; groups: string[] }

/** Why `reviewer` may not record `decision` on `req`, or null when they may. */
export function reviewRefusal(req: ApprovalRequest, reviewer: Reviewer, now: Date): { status: 403 | 409; reason: string } | null {
  if (req.spec.requester.user === reviewer.user) {
    return { status: 403, reason: `${reviewer.user} requested this statement and cannot review it` };
  }
  if (!isApprover(req.spec.approvers, reviewer)) {
    return { status: 403, reason: `${reviewer.user} is not an approver of ${req.metadata.name}; approvers: ${describeApprovers(req.spec.approvers)}` };
  }
  const phase = phaseOf(req);
  if (phase !== 'Pending') return { status: 409, reason: `${req.metadata.name} is already ${phase}; a decision is final` };
  if (expired(req, now)) return { status: 409, reason: `${req.metadata.name} expired at ${req.spec.expiresAt}` };
  if ((req.status?.reviews ?? []).some((r) => r.user === reviewer.user)) {
    return { status: 409, reason: `${reviewer.user} has already reviewed ${req.metadata.name}; a second approval must come from another approver` };
  }
  return null;
}

export function isApprover(approvers: Approver[], who: Reviewer): boolean {
  return approvers.some((a) => (a.kind === 'User' ? a.name === who.user : who.groups.includes(a.name)));
}

export const describeApprovers = (approvers: Approver[]) =>
  approvers.map((a) => `${a.kind === 'Group' ? 'group ' : ''}${a.name}`).join(', ') || 'none';

export const expired = (req: ApprovalRequest, now: Date) => now.getTime() >= Date.parse(req.spec.expiresAt);

export function phaseOf(req: ApprovalRequest): ApprovalPhase {
  return req.status?.phase ?? 'Pending';
}

/** The phase the reviews imply: any denial denies; enough distinct approvals approve. */
export function phaseFromReviews(reviews: Review[], requiredApprovals: number): ApprovalPhase {
  if (reviews.some((r) => r.decision === 'Denied')) return 'Denied';
  const approvers = new Set(reviews.filter((r) => r.decision === 'Approved').map((r) => r.user));
  return approvers.size >= requiredApprovals ? 'Approved' : 'Pending';
}

/** Status after `reviewer` records `decision`; the caller has checked reviewRefusal. */
export function withReview(req: ApprovalRequest, reviewer: Reviewer, decision: ApprovalDecision, reason: string, now: Date): ApprovalRequest {
  const reviews = [...(req.status?.reviews ?? []), { user: reviewer.user, decision, reason, at: now.toISOString() }];
  const phase = phaseFromReviews(reviews, req.spec.requiredApprovals);
  const status = { ...req.status, reviews, phase };
  if (phase !== 'Pending') Object.assign(status, { decision: phase as ApprovalDecision, decidedBy: reviewer.user, reason });
  return { ...req, status };
}

export interface ExecutionBinding { user: string; policy: string; fingerprint: string; unmask: string[] }

/** Why this approval may not run this statement now, or null when it may (and must be claimed). */
export function executionRefusal(req: ApprovalRequest, b: ExecutionBinding, now: Date): { rule: string; reason: string } | null {
  const name = req.metadata.name;
  if (req.spec.requester.user !== b.user) return { rule: 'approval_mismatch', reason: `${name} was granted to another requester` };
  if (req.spec.policyRef.name !== b.policy) return { rule: 'approval_mismatch', reason: `${name} was granted under policy ${req.spec.policyRef.name}` };
  if (req.spec.statement.fingerprint !== b.fingerprint) return { rule: 'approval_mismatch', reason: `${name} was granted for a different statement; send the byte-identical statement or ask for a new approval` };
  const granted = new Set((req.spec.statement.unmask ?? []).map((u) => u.toUpperCase()));
  if (!b.unmask.every((u) => granted.has(u.toUpperCase()))) return { rule: 'approval_mismatch', reason: `${name} does not cover unmasking ${b.unmask.join(', ')}` };
  const phase = phaseOf(req);
  if (phase === 'Executed') return { rule: 'approval_used', reason: `${name} was already used; an approval runs one statement once, so ask for a new one` };
  if (phase === 'Denied') return { rule: 'approval_denied', reason: `${name} was denied by ${req.status?.decidedBy ?? 'a reviewer'}${req.status?.reason ? `: ${req.status.reason}` : ''}` };
  if (phase === 'Expired' || (phase !== 'Approved' && expired(req, now))) return { rule: 'approval_expired', reason: `${name} expired at ${req.spec.expiresAt}` };
  if (phase !== 'Approved') return { rule: 'approval_pending', reason: `${name} is still waiting for review` };
  if (expired(req, now)) return { rule: 'approval_expired', reason: `${name} was approved but not used before it expired at ${req.spec.expiresAt}` };
  return null;
}
