// NamedWatch against a fake API server that, like RBAC with resourceNames, answers only for
// the names it grants and only with a metadata.name field selector.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeClient } from '../../../src/kube/client.ts';
import { NamedWatch } from '../../../src/kube/named-watch.ts';

const secret = (name: string, rv: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'ns', resourceVersion: rv } });

function fakeApi(granted: Set<string>, existing: Map<string, ReturnType<typeof secret>>) {
  const watching = new Set<string>();
  const requests: string[] = [];
  const nameOf = (fieldSelector: unknown) => /^metadata\.name=(.+)$/.exec(String(fieldSelector ?? ''))?.[1];
  const client = {
    async list(_ref: unknown, query: { fieldSelector?: string }) {
      const n = nameOf(query.fieldSelector);
      requests.push(`list ${n ?? '(all)'}`);
      if (!n || !granted.has(n)) throw new ApiError(403, 'Forbidden', `secrets "${n ?? ''}" is forbidden`);
      const s = existing.get(n);
      return { metadata: { resourceVersion: '10' }, items: s ? [s] : [] };
    },
    watch(_path: string, query: Record<string, unknown>) {
      const n = nameOf(query.fieldSelector)!;
      watching.add(n);
      let abort = () => {};
      const done = new Promise<void>((resolve) => { abort = () => { watching.delete(n); resolve(); }; });
      return { done, abort: () => abort() };
    },
  };
  return { client: client as unknown as KubeClient, watching, requests };
}

describe('NamedWatch', () => {
  it('watches exactly the names wanted, one field-selected informer each, and never lists the namespace', async () => {
    const api = fakeApi(new Set(['hash-key', 'creds']), new Map([['hash-key', secret('hash-key', '5')]]));
    let changes = 0;
    const w = new NamedWatch(api.client, { resource: { group: '', version: 'v1', plural: 'secrets', namespace: 'ns' }, onChange: () => { changes++; } });
    await w.want(['hash-key', 'creds']);
    assert.deepEqual(w.list().map((s) => s.metadata.name), ['hash-key'], 'creds does not exist: absent, not an error');
    assert.deepEqual(w.unsynced(), []);
    assert.ok(changes >= 1, 'the Secret found is reported');
    assert.ok(api.requests.every((r) => r !== 'list (all)'));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([...api.watching].sort(), ['creds', 'hash-key']);

    await w.want(['creds']);
    assert.deepEqual([...api.watching], ['creds'], 'a name no longer wanted stops being watched');
    assert.deepEqual(w.list(), []);
    await w.stop();
    assert.deepEqual([...api.watching], []);
  });

  it('reports a name it may not read yet as unsynced, waits for it only once, and reads it when granted', async () => {
    const granted = new Set<string>();
    const api = fakeApi(granted, new Map([['late', secret('late', '7')]]));
    let changes = 0;
    const w = new NamedWatch(api.client, { resource: { group: '', version: 'v1', plural: 'secrets', namespace: 'ns' }, onChange: () => { changes++; } });
    const t0 = Date.now();
    await w.want(['late'], 300);
    assert.ok(Date.now() - t0 >= 250, 'the first call waits (bounded) for a new name');
    assert.deepEqual(w.unsynced(), ['late']);
    const t1 = Date.now();
    await w.want(['late'], 300);
    assert.ok(Date.now() - t1 < 100, 'a name already being retried does not hold up the next call');

    granted.add('late'); // the controller has written the Role
    const deadline = Date.now() + 5_000;
    while (w.unsynced().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(w.unsynced(), []);
    assert.deepEqual(w.list().map((s) => s.metadata.resourceVersion), ['7']);
    assert.ok(changes >= 1);
    await w.stop();
    await w.want(['late']);
    assert.deepEqual(w.list(), [], 'a stopped watch starts nothing again');
  });
});
