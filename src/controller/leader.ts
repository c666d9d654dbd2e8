// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it, so that of several
// controller replicas exactly one acts:
// - a candidate takes the Lease when it is free, its own, or not renewed for leaseDuration
//   as measured on the candidate's own clock (from when it last saw the record change, so
//   clock skew between replicas does not matter);
// - every write carries the resourceVersion read (compare-and-set): two candidates can never
//   both win;
// - the leader renews every retryPeriod; if it cannot renew within renewDeadline it stops
//   leading (the process exits, like controller-runtime) before anyone else may take over;
// - on a clean shutdown the leader releases the Lease so a standby takes over at once.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'winston';
import type { KubeClient } from '../kube/client.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/client.ts';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease { apiVersion: string; kind: string; metadata: { name: string; namespace: string; resourceVersion?: string }; spec?: LeaseRecord }

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** What a candidate should do with the lease it read: pure, for tests. */
export function leaseAction(spec: LeaseRecord | undefined, me: string, observedAtMs: number, nowMs: number, leaseDurationMs: number): 'take' | 'renew' | 'wait' {
  const holder = spec?.holderIdentity;
  if (!holder) return 'take';
  if (holder === me) return 'renew';
  const duration = (spec?.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
  return nowMs - observedAtMs >= duration ? 'take' : 'wait';
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: { key: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private lastRenew = 0;

  constructor(private readonly client: KubeClient, private readonly opts: LeaderElectionOptions, private readonly log: Logger, private readonly onChange: (leading: boolean) => void = () => {}) {
    this.identity = opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean { return this.leading; }

  private get ref() {
    return { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: this.opts.namespace, name: this.opts.name };
  }

  /**
   * Resolves once this candidate leads; then keeps renewing. `lost` is called (once) when
   * leadership is lost; the caller should stop acting at once (and usually exit).
   */
  async acquire(lost: (reason: string) => void): Promise<void> {
    this.log.info(`leader election: ${this.identity} waiting for lease ${this.opts.namespace}/${this.opts.name}`);
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew() === 'ok') break;
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    if (this.stopped) return;
    this.leading = true;
    this.lastRenew = Date.now();
    this.onChange(true);
    this.log.info(`leader election: ${this.identity} is the leader`);
    void (async () => {
      while (!this.stopped) {
        await this.sleep(this.retryPeriodMs);
        if (this.stopped) return;
        const r = await this.tryAcquireOrRenew();
        if (r === 'ok') { this.lastRenew = Date.now(); continue; }
        if (r === 'held' || Date.now() - this.lastRenew >= this.renewDeadlineMs) {
          this.leading = false;
          this.onChange(false);
          lost(r === 'held'
            ? `lease ${this.opts.namespace}/${this.opts.name} is now held by someone else`
            : `could not renew lease ${this.opts.namespace}/${this.opts.name} within ${this.renewDeadlineMs} ms`);
          return;
        }
      }
    })();
  }

  /** Stop; a leader releases the lease so a standby can take over without waiting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    this.onChange(false);
    try {
      const lease = await this.client.get<Lease>(this.ref);
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.client.replace(this.ref, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } });
      this.log.info(`leader election: ${this.identity} released the lease`);
    } catch (e) {
      this.log.warn(`leader election: could not release the lease: ${String(e)}`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => { this.wake = r; setTimeout(r, ms).unref(); });
  }

  private async tryAcquireOrRenew(): Promise<'ok' | 'held' | 'error'> {
    const now = new Date();
    const record: LeaseRecord = { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    try {
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>(this.ref);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        await this.client.create({ ...this.ref, name: undefined }, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec: record });
        return 'ok';
      }
      const spec = lease.spec ?? {};
      const key = `${spec.holderIdentity}|${spec.renewTime}`;
      if (this.observed?.key !== key) this.observed = { key, at: now.getTime() };
      const action = leaseAction(spec, this.identity, this.observed.at, now.getTime(), this.leaseDurationMs);
      if (action === 'wait') return 'held';
      const next: LeaseRecord = action === 'renew'
        ? { ...spec, renewTime: record.renewTime, leaseDurationSeconds: record.leaseDurationSeconds }
        : { ...record, leaseTransitions: (spec.leaseTransitions ?? 0) + (spec.holderIdentity ? 1 : 0) };
      const updated = await this.client.replace<Lease>(this.ref, { ...lease, spec: next });
      this.observed = { key: `${updated.spec?.holderIdentity}|${updated.spec?.renewTime}`, at: now.getTime() };
      return 'ok';
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) return 'error'; // someone else wrote first; look again
      if (isNotFound(e)) {
        this.log.error(`leader election: namespace ${this.opts.namespace} does not exist; create it or pass --leader-election-namespace`);
        return 'error';
      }
      this.log.warn(`leader election: ${String(e)}`);
      return 'error';
    }
  }
}
