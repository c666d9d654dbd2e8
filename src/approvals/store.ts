// Where ApprovalRequests live: in memory for standalone mode, as custom resources in a
// cluster. Every state change is a compare-and-set on a version, so two gateways (or two
// pollers) can never both execute one approval. waitForChange lets a front end wait for a
// decision instead of re-reading the request in a loop.
import type { ApprovalRequest } from '../api/types.ts';
import { ChangeNotifier } from './changes.ts';

export class ConflictError extends Error {
  constructor(message: string) { super(message); this.name = 'ConflictError'; }
}

export interface ApprovalStore {
  create(req: ApprovalRequest): Promise<ApprovalRequest>;
  get(namespace: string, name: string): Promise<ApprovalRequest | undefined>;
  list(namespace?: string): Promise<ApprovalRequest[]>;
  /** Replace the status if metadata.resourceVersion still matches; else ConflictError. */
  updateStatus(req: ApprovalRequest): Promise<ApprovalRequest>;
  /**
   * Resolves with what the store then holds for the request (undefined: gone) once its
   * resourceVersion differs from `resourceVersion`, or when `timeoutMs` pass or `signal` aborts.
   */
  waitForChange(namespace: string, name: string, resourceVersion: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ApprovalRequest | undefined>;
}

export class MemoryApprovalStore implements ApprovalStore {
  private readonly items = new Map<string, ApprovalRequest>();
  private version = 0;
  private readonly changes = new ChangeNotifier();

  async create(req: ApprovalRequest): Promise<ApprovalRequest> {
    const key = keyOf(req.metadata.namespace ?? 'default', req.metadata.name);
    if (this.items.has(key)) throw new ConflictError(`approval request ${key} already exists`);
    const stored = clone({ ...req, metadata: { ...req.metadata, resourceVersion: String(++this.version), creationTimestamp: new Date().toISOString() } });
    this.items.set(key, stored);
    this.changes.notify(key);
    return clone(stored);
  }

  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    const r = this.items.get(keyOf(namespace, name));
    return r && clone(r);
  }

  async list(namespace?: string): Promise<ApprovalRequest[]> {
    return [...this.items.values()].filter((r) => !namespace || r.metadata.namespace === namespace).map(clone);
  }

  async updateStatus(req: ApprovalRequest): Promise<ApprovalRequest> {
    const key = keyOf(req.metadata.namespace ?? 'default', req.metadata.name);
    const cur = this.items.get(key);
    if (!cur) throw new ConflictError(`approval request ${key} no longer exists`);
    // Check-and-set with no await in between: atomic on Node's single thread.
    if (cur.metadata.resourceVersion !== req.metadata.resourceVersion) throw new ConflictError(`approval request ${key} was changed by someone else`);
    const next = clone({ ...cur, status: req.status, metadata: { ...cur.metadata, resourceVersion: String(++this.version) } });
    this.items.set(key, next);
    this.changes.notify(key);
    return clone(next);
  }

  async waitForChange(namespace: string, name: string, resourceVersion: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ApprovalRequest | undefined> {
    const key = keyOf(namespace, name);
    await this.changes.wait(key, () => this.items.get(key)?.metadata.resourceVersion !== resourceVersion, timeoutMs, signal);
    return this.get(namespace, name);
  }
}

const keyOf = (ns: string, name: string) => `${ns}/${name}`;
const clone = <T>(x: T): T => structuredClone(x);
