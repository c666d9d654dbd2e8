import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRequest, ApprovalRequestStatus } from '../../../src/api/types.ts';
import { lifecycle, nextPhase, tally } from '../../../src/controller/approvalrequest/lifecycle.ts';

const created = new Date('2026-11-25T10:00:00Z');
const at = (minutes: number) => new Date(created.getTime() + minutes * 60_000);
const HOUR = 3_600_000;
const req = (status: ApprovalRequestStatus | undefined, requiredApprovals = 1): ApprovalRequest => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name: 'claims-7f3a9c', namespace: 'team-a' },
  spec: {
    policyRef: { name: 'claims' },
    requester: { user: 'system:serviceaccount:team-a:agent' },
    statement: { sql: 'SELECT ssn FROM patients', fingerprint: 'f1', kind: 'SELECT' },
    reasons: ['unmasked PATIENTS.SSN'],
    approvers: [{ kind: 'Group', name: 'privacy-office' }],
    requiredApprovals,
    expiresAt: at(15).toISOString(),
  },
  ...(status ? { status } : {}),
});
const review = (user: string, decision: 'Approved' | 'Denied' = 'Approved') => ({ user, decision, reason: 'r', at: at(1).toISOString() });

describe('ApprovalRequest phase', () => {
  it('starts Pending and says whom it waits for and how to decide', () => {
    const lc = lifecycle(req(undefined), at(1), HOUR);
    assert.equal(lc.status?.phase, 'Pending');
    const c = lc.status!.conditions![0]!;
    assert.deepEqual([c.type, c.status, c.reason], ['Decided', 'False', 'WaitingForApproval']);
    assert.match(c.message, /0 of 1 approval; approvers: group privacy-office; decide with kubectl phigate approve\|deny claims-7f3a9c -n team-a/);
    assert.deepEqual(lc.events.map((e) => e.reason), ['WaitingForApproval']);
    assert.equal(lc.requeueAfterMs, 14 * 60_000 + 50, 'looks again when it expires');
  });

  it('is Approved by a single decision when one approval is required', () => {
    const r = req({ decision: 'Approved', decidedBy: 'bob', reason: 'ok' });
    assert.equal(nextPhase(r, at(2)), 'Approved');
    const lc = lifecycle(r, at(2), HOUR);
    assert.equal(lc.status?.phase, 'Approved');
    assert.match(lc.events[0]!.message, /approved by bob/);
  });

  it('needs a quorum of distinct approvers', () => {
    assert.equal(nextPhase(req({ reviews: [review('bob')] }, 2), at(2)), 'Pending');
    assert.equal(nextPhase(req({ reviews: [review('bob'), review('carol')] }, 2), at(2)), 'Approved');
    // A decision and a review by the same person count once.
    assert.equal(nextPhase(req({ decision: 'Approved', decidedBy: 'bob', reviews: [review('bob')] }, 2), at(2)), 'Pending');
    assert.deepEqual(tally(req({ decision: 'Approved', decidedBy: 'bob', reviews: [review('bob'), review('carol')] }, 2)).approvedBy, ['bob', 'carol']);
  });

  it('reports quorum progress as it grows', () => {
    const lc = lifecycle(req({ phase: 'Pending', reviews: [review('bob')] }, 2), at(2), HOUR);
    assert.match(lc.status!.conditions![0]!.message, /^1 of 2 approvals \(bob\)/);
    assert.equal(lc.events.length, 1);
  });

  it('is Denied by any denial, even after approvals', () => {
    assert.equal(nextPhase(req({ reviews: [review('bob'), review('carol', 'Denied')] }, 2), at(2)), 'Denied');
    const lc = lifecycle(req({ decision: 'Denied', decidedBy: 'bob', reason: 'no ticket' }), at(2), HOUR);
    assert.equal(lc.status?.phase, 'Denied');
    assert.deepEqual([lc.events[0]!.type, lc.events[0]!.message], ['Warning', 'denied by bob: no ticket']);
  });

  it('expires when undecided, and when approved but never used', () => {
    assert.equal(nextPhase(req({ phase: 'Pending' }), at(15)), 'Expired');
    assert.equal(nextPhase(req({ phase: 'Approved', decision: 'Approved', decidedBy: 'bob' }), at(16)), 'Expired');
    const lc = lifecycle(req({ phase: 'Approved', decision: 'Approved', decidedBy: 'bob' }), at(16), HOUR);
    assert.match(lc.status!.conditions![0]!.message, /approved but not used before/);
    assert.equal(lc.requeueAfterMs, HOUR - 60_000 + 50, 'looks again when it is due for deletion');
  });

  it('keeps final phases final', () => {
    for (const phase of ['Denied', 'Expired', 'Executed'] as const) {
      assert.equal(nextPhase(req({ phase, decision: 'Approved', decidedBy: 'bob' }), at(2)), phase);
    }
    assert.equal(nextPhase(req({ phase: 'Executed', decision: 'Approved', decidedBy: 'bob' }), at(30)), 'Executed', 'an executed request does not become Expired');
  });

  it('deletes a request once the retention after expiry is over, whatever its phase', () => {
    assert.equal(lifecycle(req({ phase: 'Executed' }), at(15 + 59), HOUR).delete, false);
    assert.equal(lifecycle(req({ phase: 'Executed' }), at(15 + 60), HOUR).delete, true);
    assert.equal(lifecycle(req(undefined), at(15 + 60), HOUR).delete, true);
  });

  it('writes nothing and records nothing when nothing changed', () => {
    const first = lifecycle(req(undefined), at(1), HOUR);
    const again = lifecycle(req(first.status), at(3), HOUR);
    assert.equal(again.status, undefined);
    assert.deepEqual(again.events, []);
  });
});
