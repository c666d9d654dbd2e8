// The informer against a scripted API server: list, watch, resume, relist on 410 (reporting
// deletions it missed), back off on errors, and abort a watch that went silent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeClient } from '../../../src/kube/client.ts';
import { Informer, type InformerEvent } from '../../../src/kube/informer.ts';
import { Backoff } from '../../../src/kube/queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const obj = (name: string, rv: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv } });

type Step =
  | { list: ReturnType<typeof obj>[]; rv: string }
  | { listError: ApiError }
  | { watch: [string, any][]; end?: 'close' | 'silent' | ApiError };

/** A fake client that answers list and watch calls from a script, in order. */
function scripted(steps: Step[]) {
  const calls: string[] = [];
  const next = (kind: 'list' | 'watch') => {
    const s = steps.shift();
    if (!s) return undefined;
    if (kind === 'list' && !('list' in s) && !('listError' in s)) throw new Error(`script expected a watch, got a list (calls: ${calls.join(',')})`);
    if (kind === 'watch' && !('watch' in s)) throw new Error(`script expected a list, got a watch (calls: ${calls.join(',')})`);
    return s;
  };
  const client = {
    async list() {
      calls.push('list');
      const s = next('list');
      if (!s) return { metadata: { resourceVersion: 'end' }, items: [] }; // script over: an empty list, then a quiet watch
      if ('listError' in s) throw s.listError;
      return { metadata: { resourceVersion: (s as any).rv }, items: (s as any).list };
    },
    watch(_path: string, query: Record<string, unknown>, onEvent: (t: string, o: any) => void) {
      calls.push(`watch@${query.resourceVersion}`);
      const s = next('watch') as Extract<Step, { watch: unknown }> | undefined;
      let abort = () => {};
      const done = new Promise<void>((resolve, reject) => {
        abort = resolve;
        if (!s) return; // hang until aborted
        setTimeout(() => {
          for (const [t, o] of s.watch) onEvent(t, o);
          if (s.end === 'silent') return;
          if (s.end instanceof ApiError) reject(s.end); else resolve();
        }, 1);
      });
      return { done, abort: () => abort() };
    },
  };
  return { client: client as unknown as KubeClient, calls };
}

function record(inf: Informer) {
  const events: string[] = [];
  inf.on((ev: InformerEvent, o) => events.push(`${ev}:${o.metadata.name}@${o.metadata.resourceVersion}`));
  return events;
}

describe('Informer', () => {
  it('lists, then watches from the list\'s resourceVersion and keeps a cache', async () => {
    const { client, calls } = scripted([
      { list: [obj('a', '1')], rv: '10' },
      { watch: [['ADDED', obj('b', '11')], ['MODIFIED', obj('a', '12')], ['DELETED', obj('b', '13')]], end: 'silent' },
    ]);
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' } });
    const events = record(inf);
    inf.start();
    await inf.waitForSync();
    await sleep(20);
    await inf.stop();
    assert.deepEqual(calls, ['list', 'watch@10']);
    assert.deepEqual(events, ['add:a@1', 'add:b@11', 'update:a@12', 'delete:b@13']);
    assert.deepEqual(inf.list().map((o) => o.metadata.name), ['a']);
    assert.equal(inf.get('ns/a')?.metadata.resourceVersion, '12');
  });

  it('resumes a watch the server closed from the last resourceVersion seen, bookmarks included', async () => {
    const { client, calls } = scripted([
      { list: [], rv: '5' },
      { watch: [['ADDED', obj('a', '6')], ['BOOKMARK', { metadata: { resourceVersion: '9' } }]], end: 'close' },
      { watch: [], end: 'silent' },
    ]);
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' } });
    inf.start();
    await sleep(30);
    await inf.stop();
    assert.deepEqual(calls, ['list', 'watch@5', 'watch@9']);
  });

  it('relists on 410 Gone and reports the deletions it missed as deletes', async () => {
    const gone = new ApiError(410, 'Expired', 'too old resource version');
    const { client, calls } = scripted([
      { list: [obj('a', '1'), obj('b', '2')], rv: '10' },
      { watch: [['ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' }]] },
      { list: [obj('a', '1'), obj('c', '20')], rv: '30' }, // b was deleted while we were away
      { watch: [], end: 'silent' },
    ]);
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' } });
    const events = record(inf);
    inf.start();
    await sleep(40);
    await inf.stop();
    void gone;
    assert.deepEqual(calls, ['list', 'watch@10', 'list', 'watch@30']);
    assert.deepEqual(events, ['add:a@1', 'add:b@2', 'add:c@20', 'delete:b@2']);
    assert.equal(inf.stats.gone, 1);
  });

  it('backs off and lists again after an error', async () => {
    const { client, calls } = scripted([
      { listError: new ApiError(500, 'InternalError', 'etcd unavailable') },
      { list: [obj('a', '1')], rv: '3' },
      { watch: [], end: 'silent' },
    ]);
    const warnings: string[] = [];
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' }, backoff: new Backoff(20, 100, 0), log: (l, m) => { if (l === 'warn') warnings.push(m); } });
    inf.start();
    await inf.waitForSync();
    await sleep(10);
    await inf.stop();
    assert.deepEqual(calls, ['list', 'list', 'watch@3']);
    assert.match(warnings[0]!, /500 InternalError: etcd unavailable; retrying in 20 ms/);
  });

  it('aborts a watch that stays silent longer than the server could keep it open, and starts over', async () => {
    const { client, calls } = scripted([
      { list: [], rv: '1' },
      { watch: [], end: 'silent' },
      { list: [], rv: '2' },
      { watch: [], end: 'silent' },
    ]);
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' }, watchTimeoutSeconds: 0.03, stallGraceMs: 20, backoff: new Backoff(1, 1, 0) });
    inf.start();
    await sleep(120);
    await inf.stop();
    assert.ok(inf.stats.stalls >= 1, 'watchdog fired');
    assert.deepEqual(calls.slice(0, 4), ['list', 'watch@1', 'list', 'watch@2']);
  });

  it('re-delivers cached objects on resync', async () => {
    const { client } = scripted([{ list: [obj('a', '1')], rv: '1' }, { watch: [], end: 'silent' }]);
    const inf = new Informer(client, { resource: { group: '', version: 'v1', plural: 'configmaps' }, resyncMs: 20 });
    const events = record(inf);
    inf.start();
    await sleep(70);
    await inf.stop();
    assert.ok(events.filter((e) => e === 'update:a@1').length >= 2, events.join(' '));
  });
});
