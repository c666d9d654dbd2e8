import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRequest } from '../../../src/api/types.ts';
import {
  executionRefusal, phaseFromReviews, reviewRefusal, withReview, type ExecutionBinding,
} from '../../../src/approvals/validation.ts';
import { ConflictError, MemoryApprovalStore } from '../../../src/approvals/store.ts';

const now = new Date('2026-11-25T10:00:00Z');
const request = (over: Partial<ApprovalRequest['spec']> = {}, status: ApprovalRequest['status'] = { phase: 'Pending', reviews: [] }): ApprovalRequest => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name: 'p-abc123', namespace: 'team-a' },
  spec: {
    policyRef: { name: 'p' },
    requester: { user: 'agent', groups: ['agents'] },
    statement: { sql: 'SELECT ssn FROM patients', fingerprint: 'f1', kind: 'SELECT', unmask: ['PATIENTS.SSN'] },
    reasons: ['unmasked PATIENTS.SSN'],
    approvers: [{ kind: 'Group', name: 'privacy' }, { kind: 'User', name: 'bob' }],
    requiredApprovals: 1,
    expiresAt: '2026-11-25T10:15:00Z',
    ...over,
  },
  status,
});
const alice = { user: 'alice', groups: ['privacy'] };
const bob = { user: 'bob', groups: [] };
const binding: ExecutionBinding = { user: 'agent', policy: 'p', fingerprint: 'f1', unmask: ['PATIENTS.SSN'] };

describe('reviewRefusal', () => {
  it('lets a listed approver (by group or by name) review a pending request', () => {
    assert.equal(reviewRefusal(request(), alice, now), null);
    assert.equal(reviewRefusal(request(), bob, now), null);
  });
  it('never lets the requester review their own request, even if listed', () => {
    const r = request({ approvers: [{ kind: 'User', name: 'agent' }] });
    assert.equal(reviewRefusal(r, { user: 'agent', groups: [] }, now)?.status, 403);
  });
  it('refuses a non-approver with 403 naming the approvers', () => {
    const refusal = reviewRefusal(request(), { user: 'mallory', groups: ['others'] }, now);
    assert.equal(refusal?.status, 403);
    assert.match(refusal!.reason, /group privacy, bob/);
  });
  it('a decision is final: no review after Approved or Denied', () => {
    const approved = withReview(request(), alice, 'Approved', 'ok', now);
    assert.equal(approved.status?.phase, 'Approved');
    assert.equal(approved.status?.decidedBy, 'alice');
    assert.equal(reviewRefusal(approved, bob, now)?.status, 409);
  });
  it('refuses a second review by the same approver and reviews after expiry', () => {
    const one = withReview(request({ requiredApprovals: 2 }), alice, 'Approved', 'ok', now);
    assert.equal(one.status?.phase, 'Pending');
    assert.equal(reviewRefusal(one, alice, now)?.status, 409);
    assert.equal(reviewRefusal(request(), alice, new Date('2026-11-25T10:16:00Z'))?.status, 409);
  });
});

describe('phaseFromReviews', () => {
  const r = (user: string, decision: 'Approved' | 'Denied') => ({ user, decision, at: now.toISOString() });
  it('needs distinct approvers for a quorum', () => {
    assert.equal(phaseFromReviews([r('a', 'Approved')], 2), 'Pending');
    assert.equal(phaseFromReviews([r('a', 'Approved'), r('a', 'Approved')], 2), 'Pending');
    assert.equal(phaseFromReviews([r('a', 'Approved'), r('b', 'Approved')], 2), 'Approved');
  });
  it('any denial denies', () => {
    assert.equal(phaseFromReviews([r('a', 'Approved'), r('b', 'Denied')], 1), 'Denied');
  });
});

describe('executionRefusal', () => {
  const approved = withReview(request(), alice, 'Approved', 'ok', now);
  it('allows the bound requester, policy, statement and unmask set once approved', () => {
    assert.equal(executionRefusal(approved, binding, now), null);
    assert.equal(executionRefusal(approved, { ...binding, unmask: [] }, now), null, 'a subset of the granted unmask');
  });
  const cases: [string, ApprovalRequest, Partial<ExecutionBinding>, string][] = [
    ['another requester', approved, { user: 'other' }, 'approval_mismatch'],
    ['another policy', approved, { policy: 'q' }, 'approval_mismatch'],
    ['a changed statement', approved, { fingerprint: 'f2' }, 'approval_mismatch'],
    ['more unmasked columns', approved, { unmask: ['PATIENTS.SSN', 'PATIENTS.DOB'] }, 'approval_mismatch'],
    ['a used approval', { ...approved, status: { ...approved.status, phase: 'Executed' } }, {}, 'approval_used'],
    ['a denied request', withReview(request(), alice, 'Denied', 'no', now), {}, 'approval_denied'],
    ['a pending request', request(), {}, 'approval_pending'],
    ['an expired request', { ...request(), status: { phase: 'Expired' } }, {}, 'approval_expired'],
  ];
  for (const [what, req, b, rule] of cases) {
    it(`refuses ${what}`, () => assert.equal(executionRefusal(req, { ...binding, ...b }, now)?.rule, rule));
  }
  it('refuses an approved request past its expiry', () => {
    assert.equal(executionRefusal(approved, binding, new Date('2026-11-25T10:15:00Z'))?.rule, 'approval_expired');
  });
});

describe('MemoryApprovalStore', () => {
  it('updates status only at the version it read (one of two racing claims wins)', async () => {
    const store = new MemoryApprovalStore();
    const created = await store.create(request());
    const a = store.updateStatus({ ...created, status: { phase: 'Executed' } });
    const b = store.updateStatus({ ...created, status: { phase: 'Executed' } });
    const results = await Promise.allSettled([a, b]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(results.some((r) => r.status === 'rejected' && r.reason instanceof ConflictError));
  });
  it('refuses to create a duplicate name', async () => {
    const store = new MemoryApprovalStore();
    await store.create(request());
    await assert.rejects(store.create(request()), ConflictError);
  });
});
