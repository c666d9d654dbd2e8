import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, WorkQueue } from '../../../src/kube/queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('merges repeated adds of a waiting key into one', async () => {
    const q = new WorkQueue({ name: 't' });
    for (let i = 0; i < 10; i++) q.add('a');
    q.add('b');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  it('never hands one key to two workers; an add during processing runs again afterwards', async () => {
    const q = new WorkQueue({ name: 't' });
    q.add('a');
    const k = await q.get();
    q.add('a'); // changed while being processed
    assert.equal(q.len(), 0, 'not handed out while in flight');
    q.done(k!);
    assert.equal(q.len(), 1, 'queued again once done');
  });

  it('runs workers concurrently across keys but serially per key', async () => {
    const q = new WorkQueue({ name: 't' });
    const active = new Map<string, number>();
    let maxSameKey = 0;
    let maxTotal = 0;
    let runs = 0;
    q.run(async (key) => {
      active.set(key, (active.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, active.get(key)!);
      maxTotal = Math.max(maxTotal, [...active.values()].reduce((a, b) => a + b, 0));
      await sleep(5);
      active.set(key, active.get(key)! - 1);
      runs++;
    }, 4);
    for (let i = 0; i < 20; i++) { q.add(`k${i % 3}`); await sleep(1); }
    await sleep(100);
    await q.shutdown();
    assert.equal(maxSameKey, 1);
    assert.ok(maxTotal >= 2, `workers ran in parallel (max ${maxTotal})`);
    assert.ok(runs >= 3 && runs <= 20, `deduplicated: ${runs} runs for 20 adds`);
  });

  it('retries a failing key with growing per-key delays and resets after success', async () => {
    const q = new WorkQueue({ name: 't', baseRetryDelayMs: 10, maxRetryDelayMs: 1000 });
    const times: number[] = [];
    let fails = 3;
    const errors: number[] = [];
    q.run(async () => {
      times.push(Date.now());
      if (fails-- > 0) throw new Error('boom');
    }, 1, (_k, _e, delay) => errors.push(delay));
    q.add('a');
    await sleep(250);
    await q.shutdown();
    assert.equal(times.length, 4, 'three failures, then success');
    assert.deepEqual(errors, [10, 20, 40]);
    assert.equal(q.retries('a'), 0, 'forgotten after success');
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= errors[i - 1]! - 2, `retry ${i} waited its delay`);
  });

  it('caps the per-key delay', () => {
    const q = new WorkQueue({ name: 't', baseRetryDelayMs: 100, maxRetryDelayMs: 300, retryBurst: 1000 });
    const delays = [1, 2, 3, 4, 5].map(() => q.addRateLimited('a'));
    assert.deepEqual(delays, [100, 200, 300, 300, 300]);
  });

  it('limits the overall retry rate with a token bucket', () => {
    let t = 0;
    const q = new WorkQueue({ name: 't', baseRetryDelayMs: 1, retryQps: 10, retryBurst: 2, now: () => t });
    const delays = ['a', 'b', 'c', 'd'].map((k) => q.addRateLimited(k));
    assert.deepEqual(delays.slice(0, 2), [1, 1], 'burst');
    assert.equal(delays[2], 100, 'then one token per 100 ms');
    assert.equal(delays[3], 200);
    t = 10_000;
    assert.equal(q.addRateLimited('e'), 1, 'bucket refilled');
    void q.shutdown();
  });

  it('addAfter keeps the earliest of several delays and requeues from the worker result', async () => {
    const q = new WorkQueue({ name: 't' });
    const seen: string[] = [];
    let first = true;
    q.run(async (key) => {
      seen.push(key);
      if (first) { first = false; return { requeueAfterMs: 20 }; }
    });
    q.addAfter('x', 500);
    q.addAfter('x', 10);
    q.addAfter('x', 400);
    await sleep(80);
    await q.shutdown();
    assert.deepEqual(seen, ['x', 'x'], 'once at 10 ms, once 20 ms later by request; not at 400/500');
  });

  it('shutdown wakes idle workers and waits for busy ones', async () => {
    const q = new WorkQueue({ name: 't' });
    let finished = false;
    q.run(async () => { await sleep(30); finished = true; }, 2);
    q.add('a');
    await sleep(5);
    await q.shutdown();
    assert.ok(finished);
    q.add('b');
    assert.equal(q.len(), 0, 'no adds after shutdown');
  });

  it('reports depth, adds and retries to its metrics', async () => {
    const m = { depth: [] as number[], added: 0, retried: 0, waited: 0, worked: 0 };
    const q = new WorkQueue({ name: 't', metrics: { depth: (n) => m.depth.push(n), added: () => m.added++, retried: () => m.retried++, waited: () => m.waited++, worked: () => m.worked++ } });
    q.add('a'); q.add('a'); q.add('b');
    q.addRateLimited('c');
    assert.equal(m.added, 2);
    assert.equal(m.retried, 1);
    assert.deepEqual(m.depth, [1, 2]);
    await q.shutdown();
  });
});

describe('Backoff', () => {
  it('doubles up to the cap, with bounded jitter, and resets', () => {
    const b = new Backoff(100, 1000, 0.2, () => 0.5);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
    b.reset();
    assert.equal(b.next(), 100);
    const j = new Backoff(100, 1000, 0.2, () => 1);
    assert.equal(j.next(), 120);
  });
});
