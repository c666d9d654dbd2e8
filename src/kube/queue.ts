// A keyed work queue with client-go's semantics, for level-triggered reconcilers:
// - deduplicating: a key added ten times while waiting is processed once;
// - per-key serialisation: a key is never processed by two workers at once; added while it
//   is being processed, it runs again right after (so no change is lost);
// - rate-limited retries: a failing key is retried after an exponentially growing, per-key
//   delay (reset on success), and an overall token bucket keeps a storm of failures from
//   hammering the API server;
// - delayed adds (`addAfter`), for "look again when this approval expires".
// The queue holds keys, never objects: the worker re-reads the latest state from the cache.

export interface QueueMetrics {
  depth(n: number): void;
  added(): void;
  retried(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  waited(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked(seconds: number): void;
}

export interface ReconcileResult { requeueAfterMs?: number }
export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/** Exponential backoff with jitter: initial, 2x, 4x ... up to max. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly initialMs: number, private readonly maxMs: number, private readonly jitter = 0.2, private readonly random = Math.random) {}
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 52);
    return Math.round(base * (1 + this.jitter * (this.random() * 2 - 1)));
  }
  reset(): void { this.attempt = 0; }
}

export interface WorkQueueOptions {
  name: string;
  /** First retry delay of a failing key; doubles per failure up to maxRetryDelayMs. */
  baseRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Overall retry budget: tokens per second and burst (client-go: 10 and 100). */
  retryQps?: number;
  retryBurst?: number;
  metrics?: QueueMetrics;
  now?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly addedAt = new Map<string, number>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private workers: Promise<void>[] = [];
  private tokens: number;
  private tokensAt: number;
  private readonly now: () => number;

  constructor(private readonly opts: WorkQueueOptions) {
    this.now = opts.now ?? Date.now;
    this.tokens = opts.retryBurst ?? 100;
    this.tokensAt = this.now();
  }

  get name(): string { return this.opts.name; }

  /** Keys waiting (not counting those being processed or delayed). */
  len(): number { return this.queue.length; }

  isProcessing(key: string): boolean { return this.processing.has(key); }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.opts.metrics?.added();
    if (this.processing.has(key)) return; // re-queued when its worker finishes
    this.push(key);
  }

  /** Add after `ms`; of several pending delays for one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) { this.add(key); return; }
    const at = this.now() + ms;
    const cur = this.timers.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => { this.timers.delete(key); this.add(key); }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Retry a failed key after its backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const perKey = Math.min(this.opts.maxRetryDelayMs ?? 300_000, (this.opts.baseRetryDelayMs ?? 50) * 2 ** Math.min(n, 40));
    const delay = Math.max(perKey, this.bucketDelay());
    this.opts.metrics?.retried();
    this.addAfter(key, delay);
    return delay;
  }

  /** Forget a key's failures (after it succeeded). */
  forget(key: string): void { this.failures.delete(key); }

  retries(key: string): number { return this.failures.get(key) ?? 0; }

  /** Token bucket: how long until the next retry token (0 when one is available). */
  private bucketDelay(): number {
    const qps = this.opts.retryQps ?? 10;
    const burst = this.opts.retryBurst ?? 100;
    const t = this.now();
    this.tokens = Math.min(burst, this.tokens + ((t - this.tokensAt) / 1000) * qps);
    this.tokensAt = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / qps) * 1000);
  }

  private push(key: string): void {
    this.addedAt.set(key, this.now());
    const w = this.waiters.shift();
    if (w) { this.take(key); w(key); this.opts.metrics?.depth(this.queue.length); return; }
    this.queue.push(key);
    this.opts.metrics?.depth(this.queue.length);
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
    const t = this.addedAt.get(key);
    if (t !== undefined) this.opts.metrics?.waited((this.now() - t) / 1000);
    this.addedAt.delete(key);
  }

  /** The next key (waits for one); undefined once shut down. Call done(key) when finished. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.opts.metrics?.depth(this.queue.length);
      this.take(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Run `reconcile` on `concurrency` workers until shutdown. */
  run(reconcile: Reconcile, concurrency = 1, onError: (key: string, e: unknown, retryInMs: number) => void = () => {}): void {
    for (let i = 0; i < concurrency; i++) {
      this.workers.push((async () => {
        for (;;) {
          const key = await this.get();
          if (key === undefined) return;
          const t0 = this.now();
          try {
            const r = await reconcile(key);
            this.forget(key);
            if (r && r.requeueAfterMs !== undefined) this.addAfter(key, r.requeueAfterMs);
          } catch (e) {
            const delay = this.shuttingDown ? 0 : this.addRateLimited(key);
            onError(key, e, delay);
          } finally {
            this.opts.metrics?.worked((this.now() - t0) / 1000);
            this.done(key);
          }
        }
      })());
    }
  }

  /** Stop taking keys, drop delayed ones, and wait for the workers to finish what they hold. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
    await Promise.all(this.workers);
  }
}
