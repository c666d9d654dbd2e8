// ApprovalStore over ApprovalRequest custom resources: the cluster is the only state, so
// any gateway replica sees every request, and a restart forgets nothing.
//
// Reads come from an informer (list once, then one watch) on the namespace's requests, not
// from the API server: agents poll pending statements, and a GET per poll per agent would
// load the API server for nothing. The same watch wakes waitForChange, so a decision made
// with `kubectl patch` reaches a waiting agent as soon as it is delivered.
//
// Writes go to the API server. updateStatus is a PUT of the status subresource carrying the
// resourceVersion that was read: the API server answers 409 if anyone (an approver, the
// controller, another gateway) wrote in between, which is what makes "execute once" hold
// across replicas; the cache never decides that. A writer must read its own write, but the
// watch event for it arrives later: the object the API server returned is kept in a small
// overlay until the informer delivers that resourceVersion (or relists after the write).
// resourceVersions are opaque, so they are only compared for equality. On a 409 one fresh
// GET goes into the overlay, so the caller's retry judges the newer version.
import type { ApprovalRequest } from '../api/types.ts';
import { API_VERSION, GROUP, VERSION } from '../api/types.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../kube/client.ts';
import { Informer, objectKey, type InformerEvent } from '../kube/informer.ts';
import { CODES, GatewayError } from '../gateway/errors.ts';
import { ChangeNotifier } from './changes.ts';
import { ConflictError, type ApprovalStore } from './store.ts';

const ref = (namespace?: string, name?: string) => ({ group: GROUP, version: VERSION, plural: 'approvalrequests', namespace, name });

type Resource = ApprovalRequest & KubeObject;

/** How long an own write may shadow the informer's copy if the watch never delivers it. */
const OVERLAY_TTL_MS = 30_000;
/** resourceVersions remembered per request, to tell that the informer already delivered a write. */
const HISTORY = 8;

export interface KubernetesApprovalStoreOptions {
  log?: (level: 'info' | 'warn' | 'debug', message: string) => void;
  /** Server-side watch timeout (the informer resumes after it); tests shorten it. */
  watchTimeoutSeconds?: number;
}

interface Written { obj: ApprovalRequest | undefined; at: number; lists: number }

export class KubernetesApprovalStore implements ApprovalStore {
  private readonly informer: Informer<Resource>;
  /** Own writes (undefined: deleted) not yet seen through the informer, by namespace/name. */
  private readonly written = new Map<string, Written>();
  /** The last resourceVersions the informer delivered, oldest first, by namespace/name. */
  private readonly delivered = new Map<string, string[]>();
  private readonly changes = new ChangeNotifier();

  /** `namespace`: the only namespace this store may touch (a gateway's own); undefined for all. */
  constructor(private readonly client: KubeClient, private readonly namespace?: string, opts: KubernetesApprovalStoreOptions = {}) {
    this.informer = new Informer<Resource>(client, { resource: ref(namespace), log: opts.log, watchTimeoutSeconds: opts.watchTimeoutSeconds });
    this.informer.on((event, obj) => this.onDelivered(event, obj));
  }

  /** List and start watching; resolves once the cache holds every request. */
  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  async stop(): Promise<void> { await this.informer.stop(); }

  private check(ns: string | undefined): string {
    const n = ns ?? this.namespace;
    if (!n) throw new Error('an ApprovalRequest needs a namespace');
    if (this.namespace && n !== this.namespace) throw new Error(`this gateway keeps approvals in namespace ${this.namespace}, not ${n}`);
    return n;
  }

  /** Fail closed: before the first list, "no such request" would be a guess. */
  private synced(): void {
    if (!this.informer.hasSynced()) {
      throw new GatewayError(503, CODES.internal, 'approvals_unavailable', 'the gateway has not yet read the ApprovalRequests from the Kubernetes API server; try again shortly');
    }
  }

  async create(req: ApprovalRequest): Promise<ApprovalRequest> {
    const ns = this.check(req.metadata.namespace);
    const { status, ...rest } = req;
    let created: ApprovalRequest;
    try {
      // The status subresource ignores status on create; it is written separately below.
      created = await this.client.create<ApprovalRequest>(ref(ns), { ...rest, apiVersion: API_VERSION, kind: 'ApprovalRequest', metadata: { ...req.metadata, namespace: ns } });
    } catch (e) {
      if (isAlreadyExists(e)) throw new ConflictError(`approval request ${ns}/${req.metadata.name} already exists`);
      throw e;
    }
    if (status?.phase) {
      try {
        created = await this.client.replace<ApprovalRequest>({ ...ref(ns, created.metadata.name), subresource: 'status' }, { ...created, status: { phase: status.phase } });
      } catch (e) {
        // The controller may have written the phase first: the request exists either way.
        if (!isConflict(e)) throw e;
        created = (await this.client.find<ApprovalRequest>(ref(ns, created.metadata.name))) ?? created;
      }
    }
    this.remember(`${ns}/${created.metadata.name}`, created);
    return withKind(created);
  }

  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    const key = `${this.check(namespace)}/${name}`;
    this.synced();
    const r = this.view(key);
    return r && withKind(r);
  }

  async list(namespace?: string): Promise<ApprovalRequest[]> {
    const ns = namespace ?? this.namespace;
    if (ns) this.check(ns);
    this.synced();
    const keys = new Set([...this.informer.list(ns).map(objectKey), ...[...this.written.keys()].filter((k) => !ns || k.startsWith(`${ns}/`))]);
    return [...keys].flatMap((k) => { const r = this.view(k); return r ? [withKind(r)] : []; });
  }

  async updateStatus(req: ApprovalRequest): Promise<ApprovalRequest> {
    const ns = this.check(req.metadata.namespace);
    const key = `${ns}/${req.metadata.name}`;
    if (!req.metadata.resourceVersion) throw new ConflictError(`approval request ${key} has no resourceVersion: read it before updating`);
    try {
      const next = await this.client.replace<ApprovalRequest>({ ...ref(ns, req.metadata.name), subresource: 'status' }, { ...req, apiVersion: API_VERSION, kind: 'ApprovalRequest' });
      this.remember(key, next);
      return withKind(next);
    } catch (e) {
      if (isConflict(e)) {
        // The cache was behind: one fresh read, so the caller's retry sees what won.
        this.remember(key, await this.client.find<ApprovalRequest>(ref(ns, req.metadata.name)));
        throw new ConflictError(`approval request ${key} was changed by someone else`);
      }
      if (isNotFound(e)) {
        this.remember(key, undefined);
        throw new ConflictError(`approval request ${key} no longer exists`);
      }
      // The admission policy (or a CRD rule) said no: a decision through the gateway is the
      // gateway's ServiceAccount deciding, which the API server rightly refuses.
      if (e instanceof ApiError && (e.status === 403 || e.status === 422)) {
        throw new GatewayError(403, CODES.notAuthorized, 'review_forbidden', `the API server refused the change to ${key}: ${e.message}; in a cluster, approvers decide with kubectl phigate approve|deny ${req.metadata.name} -n ${ns} --reason TEXT`);
      }
      throw e;
    }
  }

  async waitForChange(namespace: string, name: string, resourceVersion: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ApprovalRequest | undefined> {
    const key = `${this.check(namespace)}/${name}`;
    this.synced();
    await this.changes.wait(key, () => this.view(key)?.metadata.resourceVersion !== resourceVersion, timeoutMs, signal);
    return this.get(namespace, name);
  }

  /** The newest version known: an own write the informer has not delivered yet, else the cache. */
  private view(key: string): ApprovalRequest | undefined {
    const w = this.written.get(key);
    if (w && Date.now() - w.at < OVERLAY_TTL_MS) return w.obj;
    if (w) this.written.delete(key);
    return this.informer.get(key);
  }

  /** Keep what the API server answered until the informer catches up with it. */
  private remember(key: string, obj: ApprovalRequest | undefined): void {
    if (obj ? this.delivered.get(key)?.includes(obj.metadata.resourceVersion!) : !this.informer.get(key)) {
      this.written.delete(key); // the informer already has this version (or a later one)
    } else {
      this.written.set(key, { obj, at: Date.now(), lists: this.informer.stats.lists });
    }
    this.changes.notify(key);
  }

  private onDelivered(event: InformerEvent, obj: Resource): void {
    const key = objectKey(obj);
    const rv = obj.metadata.resourceVersion ?? '';
    if (event === 'delete') {
      this.delivered.delete(key);
      this.written.delete(key);
    } else {
      const seen = this.delivered.get(key) ?? [];
      seen.push(rv);
      if (seen.length > HISTORY) seen.shift();
      this.delivered.set(key, seen);
      // The watch delivers in the server's order, so the write itself arriving means the
      // cache caught up; a relist begun after the write read at least that version.
      const w = this.written.get(key);
      if (w && (w.obj?.metadata.resourceVersion === rv || this.informer.stats.lists > w.lists)) this.written.delete(key);
    }
    this.changes.notify(key);
  }
}

/** Whole objects, never shared with the cache (callers build new statuses from them). */
const withKind = (r: ApprovalRequest): ApprovalRequest => structuredClone({ ...r, apiVersion: API_VERSION, kind: 'ApprovalRequest' });
