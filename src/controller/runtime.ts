// The part every controller shares: a work queue, workers that call the controller's
// reconcile with a key, and controller-runtime's metrics around each call.
import type { Logger } from 'winston';
import { WorkQueue, type Reconcile } from '../kube/queue.ts';
import type { ControllerMetrics } from '../metrics/controller.ts';

export interface ControllerOptions {
  concurrency?: number;
  baseRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly concurrency: number;

  constructor(
    readonly name: string,
    private readonly reconcile: Reconcile,
    private readonly metrics: ControllerMetrics,
    private readonly log: Logger,
    opts: ControllerOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 2;
    this.queue = new WorkQueue({
      name,
      baseRetryDelayMs: opts.baseRetryDelayMs ?? 100,
      maxRetryDelayMs: opts.maxRetryDelayMs ?? 120_000,
      metrics: metrics.queueMetrics(name),
    });
  }

  start(): void {
    const l = { controller: this.name };
    this.metrics.maxConcurrentReconciles.set(l, this.concurrency);
    this.metrics.activeWorkers.set(l, 0);
    this.metrics.workqueueDepth.set({ name: this.name, controller: this.name }, 0);
    this.queue.run(async (key) => {
      const end = this.metrics.reconcileTime.startTimer(l);
      this.metrics.activeWorkers.inc(l);
      try {
        const r = await this.reconcile(key);
        this.metrics.reconcileTotal.inc({ ...l, result: r?.requeueAfterMs !== undefined ? 'requeue_after' : 'success' });
        return r;
      } catch (e) {
        this.metrics.reconcileTotal.inc({ ...l, result: 'error' });
        this.metrics.reconcileErrors.inc(l);
        throw e;
      } finally {
        this.metrics.activeWorkers.dec(l);
        end();
      }
    }, this.concurrency, (key, e, delay) => {
      this.log.warn(`${this.name} ${key}: ${e instanceof Error ? e.message : String(e)}; retrying in ${delay} ms`);
    });
  }

  stop(): Promise<void> { return this.queue.shutdown(); }
}
