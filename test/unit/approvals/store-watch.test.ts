// Waiting for an approval decision without polling: MemoryApprovalStore.waitForChange wakes
// on the change itself, and otherwise on its timeout or the caller's abort.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRequest } from '../../../src/api/types.ts';
import { MemoryApprovalStore } from '../../../src/approvals/store.ts';
import { ChangeNotifier } from '../../../src/approvals/changes.ts';

const request = (name: string): ApprovalRequest => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name, namespace: 'team-a' },
  spec: {
    policyRef: { name: 'claims' }, requester: { user: 'agent', groups: [], session: 's-1' },
    statement: { sql: 'SELECT ssn FROM patients', fingerprint: 'f', kind: 'SELECT', tables: ['PATIENTS'], columns: ['PATIENTS.SSN'] },
    reasons: ['unmasked PATIENTS.SSN'], approvers: [{ kind: 'Group', name: 'privacy' }], requiredApprovals: 1,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  },
  status: { phase: 'Pending' },
});

const elapsed = async <T>(p: Promise<T>): Promise<[T, number]> => { const t0 = Date.now(); const v = await p; return [v, Date.now() - t0]; };

describe('MemoryApprovalStore.waitForChange', () => {
  it('resolves with the new version as soon as the status changes, not at the timeout', async () => {
    const store = new MemoryApprovalStore();
    const r = await store.create(request('a'));
    const waiting = elapsed(store.waitForChange('team-a', 'a', r.metadata.resourceVersion, 5000));
    setTimeout(() => { void store.updateStatus({ ...r, status: { phase: 'Approved', decision: 'Approved', decidedBy: 'bob' } }); }, 30);
    const [next, ms] = await waiting;
    assert.equal(next?.status?.phase, 'Approved');
    assert.notEqual(next?.metadata.resourceVersion, r.metadata.resourceVersion);
    assert.ok(ms < 1000, `woke after ${ms} ms`);
  });

  it('resolves at once when the version given is already out of date', async () => {
    const store = new MemoryApprovalStore();
    const r = await store.create(request('b'));
    await store.updateStatus({ ...r, status: { phase: 'Denied' } });
    const [next, ms] = await elapsed(store.waitForChange('team-a', 'b', r.metadata.resourceVersion, 5000));
    assert.equal(next?.status?.phase, 'Denied');
    assert.ok(ms < 100);
  });

  it('wakes when a request that did not exist is created (undefined version)', async () => {
    const store = new MemoryApprovalStore();
    const waiting = store.waitForChange('team-a', 'later', undefined, 5000);
    setTimeout(() => { void store.create(request('later')); }, 20);
    assert.equal((await waiting)?.metadata.name, 'later');
  });

  it('ignores changes to other requests and returns the unchanged request at the timeout', async () => {
    const store = new MemoryApprovalStore();
    const r = await store.create(request('c'));
    const other = await store.create(request('d'));
    const waiting = elapsed(store.waitForChange('team-a', 'c', r.metadata.resourceVersion, 150));
    await store.updateStatus({ ...other, status: { phase: 'Approved' } });
    const [same, ms] = await waiting;
    assert.equal(same?.metadata.resourceVersion, r.metadata.resourceVersion);
    assert.ok(ms >= 140, `returned after ${ms} ms`);
  });

  it('returns early when the caller aborts (the agent hung up), and at once if already aborted', async () => {
    const store = new MemoryApprovalStore();
    const r = await store.create(request('e'));
    const ac = new AbortController();
    const waiting = elapsed(store.waitForChange('team-a', 'e', r.metadata.resourceVersion, 5000, ac.signal));
    setTimeout(() => ac.abort(), 20);
    const [same, ms] = await waiting;
    assert.equal(same?.status?.phase, 'Pending');
    assert.ok(ms < 1000);
    assert.ok((await elapsed(store.waitForChange('team-a', 'e', r.metadata.resourceVersion, 5000, ac.signal)))[1] < 100);
  });

  it('resolves with undefined for a request that does not exist when the timeout passes', async () => {
    assert.equal(await new MemoryApprovalStore().waitForChange('team-a', 'none', undefined, 10), undefined);
  });
});

describe('ChangeNotifier', () => {
  it('wakes every waiter of a key, and leaves no listener behind', async () => {
    const n = new ChangeNotifier();
    let state = 0;
    const waiters = Array.from({ length: 20 }, () => n.wait('k', () => state === 1, 5000));
    state = 1;
    n.notify('k');
    await Promise.all(waiters);
    assert.equal((n as unknown as { emitter: { listenerCount(k: string): number } }).emitter.listenerCount('k'), 0);
  });

  it('a notification that does not satisfy the condition keeps the waiter waiting', async () => {
    const n = new ChangeNotifier();
    let done = false;
    const w = n.wait('k', () => false, 80).then(() => { done = true; });
    n.notify('k');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false);
    await w;
  });
});
