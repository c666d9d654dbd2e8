// KubernetesApprovalStore against a fake API server: reads come from the informer (no GET or
// LIST per read), a writer reads its own write before the watch delivers it, an older watch
// event never hides a newer write, a 409 brings in the newer version with one GET, and
// waitForChange wakes on watch events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRequest } from '../../../src/api/types.ts';
import { KubernetesApprovalStore } from '../../../src/approvals/kubernetes.ts';
import { ConflictError } from '../../../src/approvals/store.ts';
import { ApiError, type KubeClient } from '../../../src/kube/client.ts';

const ar = (name: string, rv: string, phase = 'Pending'): ApprovalRequest => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  spec: {
    policyRef: { name: 'p' }, requester: { user: 'agent', groups: [], session: 's' },
    statement: { sql: 'SELECT 1', fingerprint: 'f', kind: 'SELECT', tables: [], columns: [] },
    reasons: [], approvers: [{ kind: 'Group', name: 'g' }], requiredApprovals: 1, expiresAt: new Date(Date.now() + 60_000).toISOString(),
  },
  status: { phase: phase as 'Pending' },
});

/** A fake API server: a list, a watch the test drives, and scripted writes; counts reads. */
function fakeClient(initial: ApprovalRequest[]) {
  const calls: string[] = [];
  let emit: (type: string, obj: unknown) => void = () => {};
  const server = new Map(initial.map((o) => [o.metadata.name, o]));
  let nextRv = 100;
  let conflictNext = false;
  const client = {
    async list() { calls.push('list'); return { metadata: { resourceVersion: '1' }, items: [...server.values()] }; },
    watch(_p: string, _q: unknown, onEvent: (t: string, o: unknown) => void) {
      calls.push('watch');
      emit = onEvent;
      let abort = () => {};
      return { done: new Promise<void>((r) => { abort = r; }), abort: () => abort() };
    },
    async find(ref: { name: string }) { calls.push('get'); return server.get(ref.name); },
    async replace(ref: { name: string }, body: ApprovalRequest) {
      calls.push('update');
      const cur = server.get(ref.name)!;
      if (conflictNext || cur.metadata.resourceVersion !== body.metadata.resourceVersion) { conflictNext = false; throw new ApiError(409, 'Conflict', 'changed'); }
      const next = { ...cur, status: body.status, metadata: { ...cur.metadata, resourceVersion: String(++nextRv) } };
      server.set(ref.name, next);
      return next;
    },
  };
  return {
    client: client as unknown as KubeClient, calls, server,
    /** What the watch would deliver. */
    deliver: (type: string, obj: ApprovalRequest) => emit(type, obj),
    /** Someone else writes (an approver): the server has it, the watch has not delivered it yet. */
    writeElsewhere(name: string, phase: string) {
      const o = ar(name, String(++nextRv), phase);
      server.set(name, o);
      return o;
    },
    conflictOnce() { conflictNext = true; },
  };
}

async function started(f: ReturnType<typeof fakeClient>) {
  const store = new KubernetesApprovalStore(f.client, 'ns');
  await store.start();
  return store;
}

describe('KubernetesApprovalStore (informer-backed)', () => {
  it('answers get and list from the cache: one LIST and one WATCH, however many reads', async () => {
    const f = fakeClient([ar('a', '10')]);
    const store = await started(f);
    for (let i = 0; i < 20; i++) {
      assert.equal((await store.get('ns', 'a'))?.metadata.resourceVersion, '10');
      assert.equal((await store.list()).length, 1);
    }
    assert.deepEqual(f.calls, ['list', 'watch']);
    await store.stop();
  });

  it('refuses to read before the first list (fail closed), and another namespace', async () => {
    const store = new KubernetesApprovalStore(fakeClient([]).client, 'ns');
    await assert.rejects(store.get('ns', 'a'), /not yet read the ApprovalRequests/);
    await assert.rejects(store.get('other', 'a'), /keeps approvals in namespace ns/);
  });

  it('reads its own write before the watch delivers it, and an older event does not hide it', async () => {
    const f = fakeClient([ar('a', '10')]);
    const store = await started(f);
    const r = (await store.get('ns', 'a'))!;
    const done = await store.updateStatus({ ...r, status: { phase: 'Executed' } });
    assert.equal((await store.get('ns', 'a'))?.status?.phase, 'Executed');
    // A change made before ours arrives late: still our (newer) write.
    f.deliver('MODIFIED', ar('a', '11', 'Approved'));
    assert.equal((await store.get('ns', 'a'))?.status?.phase, 'Executed');
    assert.equal((await store.list())[0]?.status?.phase, 'Executed');
    // The watch delivers our write, then someone else's: the cache takes over.
    f.deliver('MODIFIED', done as never);
    f.deliver('MODIFIED', ar('a', '999', 'Expired'));
    assert.equal((await store.get('ns', 'a'))?.status?.phase, 'Expired');
    assert.ok(!f.calls.includes('get'));
    await store.stop();
  });

  it('turns a 409 into ConflictError and makes the newer version visible with one GET', async () => {
    const f = fakeClient([ar('a', '10')]);
    const store = await started(f);
    const r = (await store.get('ns', 'a'))!;
    f.writeElsewhere('a', 'Approved');
    await assert.rejects(store.updateStatus({ ...r, status: { phase: 'Expired' } }), ConflictError);
    assert.equal(f.calls.filter((c) => c === 'get').length, 1);
    const fresh = (await store.get('ns', 'a'))!;
    assert.equal(fresh.status?.phase, 'Approved');
    // The retry, from the fresh version, succeeds.
    assert.equal((await store.updateStatus({ ...fresh, status: { phase: 'Executed' } })).status?.phase, 'Executed');
    await store.stop();
  });

  it('waitForChange wakes on the watch event of a decision', async () => {
    const f = fakeClient([ar('a', '10')]);
    const store = await started(f);
    const t0 = Date.now();
    const waiting = store.waitForChange('ns', 'a', '10', 5000);
    setTimeout(() => f.deliver('MODIFIED', ar('a', '12', 'Approved')), 20);
    assert.equal((await waiting)?.status?.phase, 'Approved');
    assert.ok(Date.now() - t0 < 1000);
    const gone = store.waitForChange('ns', 'a', '12', 5000);
    setTimeout(() => f.deliver('DELETED', ar('a', '13', 'Approved')), 20);
    assert.equal(await gone, undefined);
    assert.deepEqual(f.calls, ['list', 'watch']);
    await store.stop();
  });
});
