// An informer: list, then watch from the list's resourceVersion, keeping a cache of the
// objects and telling handlers what changed. What makes it safe to run for months:
// - a watch that ends (the server closes every watch after timeoutSeconds) is resumed from
//   the last resourceVersion seen (bookmarks included);
// - "410 Gone" (the resourceVersion is older than etcd's compaction window) relists, and the
//   relist is diffed against the cache so deletions missed in between are still reported;
// - any other failure backs off exponentially with jitter, then lists again;
// - a watchdog aborts a watch that has been silent for longer than the server could keep
//   it open (a half-dead TCP connection otherwise looks like a quiet cluster forever).
import type { KubeClient, KubeObject, ResourceRef } from './client.ts';
import { ApiError, isGone, resourcePath } from './client.ts';
import { Backoff } from './queue.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  /** Which objects: a namespace in `resource` limits the informer to it. */
  resource: Omit<ResourceRef, 'name' | 'subresource'>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Cache metadata only (PartialObjectMetadata): for objects whose contents this process must not hold, such as Secrets. */
  metadataOnly?: boolean;
  /** Server-side watch timeout (jittered by up to 20%); the watchdog allows this plus stallGraceMs. */
  watchTimeoutSeconds?: number;
  stallGraceMs?: number;
  /** Re-deliver every cached object as an update this often (0: never). */
  resyncMs?: number;
  backoff?: Backoff;
  log?: (level: 'info' | 'warn' | 'debug', message: string) => void;
}

export const objectKey = (o: { metadata: { namespace?: string; name: string } }) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private stopped = true;
  private abortWatch: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly backoff: Backoff;
  /** Counters for tests and metrics: lists done, watches started, relists caused by 410, watchdog aborts. */
  readonly stats = { lists: 0, watches: 0, gone: 0, stalls: 0, errors: 0 };

  constructor(private readonly client: KubeClient, private readonly opts: InformerOptions) {
    this.backoff = opts.backoff ?? new Backoff(500, 30_000);
  }

  get name(): string {
    const r = this.opts.resource;
    return `${r.plural}${r.group ? `.${r.group}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}`;
  }

  on(handler: InformerHandler<T>): this {
    this.handlers.push(handler);
    return this;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => { for (const o of this.cache.values()) this.emit('update', o, o); }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.abortWatch?.();
    this.wake?.();
    await this.loop;
  }

  hasSynced(): boolean { return this.synced; }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  get(key: string): T | undefined { return this.cache.get(key); }

  list(namespace?: string): T[] {
    return [...this.cache.values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try { h(event, obj, old); } catch (e) { this.log('warn', `${this.name}: handler failed: ${String(e)}`); }
    }
  }

  private log(level: 'info' | 'warn' | 'debug', m: string): void { this.opts.log?.(level, m); }

  private async run(): Promise<void> {
    let rv: string | undefined;
    while (!this.stopped) {
      try {
        if (rv === undefined) rv = await this.relist();
        const started = Date.now();
        rv = await this.watchFrom(rv);
        // A watch that lived a while was healthy: start the next failure's backoff small again.
        if (Date.now() - started > 10_000) this.backoff.reset();
      } catch (e) {
        if (this.stopped) break;
        if (isGone(e)) {
          this.stats.gone++;
          this.log('info', `${this.name}: resourceVersion ${rv} is too old (410 Gone); listing again`);
          rv = undefined;
          continue;
        }
        this.stats.errors++;
        const delay = this.backoff.next();
        this.log('warn', `${this.name}: ${e instanceof ApiError ? `${e.status} ${e.reason}: ${e.message}` : String(e)}; retrying in ${delay} ms`);
        rv = undefined;
        await new Promise<void>((r) => { this.wake = r; setTimeout(r, delay); });
      }
    }
  }

  /** List everything (paged), replace the cache, report the differences. Returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    this.stats.lists++;
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(this.opts.resource, { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, limit: 500, continue: cont }, { metadataOnly: this.opts.metadataOnly });
      items.push(...(page.items ?? [])); // an empty PartialObjectMetadataList has items: null
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    const apiVersion = this.opts.resource.group ? `${this.opts.resource.group}/${this.opts.resource.version}` : this.opts.resource.version;
    const seen = new Set<string>();
    for (const item of items) {
      // Lists omit apiVersion/kind on items; handlers get whole objects.
      const obj = { ...item, apiVersion: item.apiVersion || apiVersion, kind: item.kind || kindOf(this.opts.resource.plural) } as T;
      const k = objectKey(obj);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, old);
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) { this.cache.delete(k); this.emit('delete', old); }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }

  /** One watch; resolves with the last resourceVersion when the server ends it. */
  private watchFrom(rv: string): Promise<string> {
    this.stats.watches++;
    const timeout = this.opts.watchTimeoutSeconds ?? 300;
    const jittered = timeout * (0.8 + Math.random() * 0.2);
    const serverTimeout = Math.max(1, Math.round(jittered));
    const stallMs = Math.round(jittered * 1000) + (this.opts.stallGraceMs ?? 30_000);
    let last = rv;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.abortWatch = undefined;
        w.abort();
        if (err) reject(err); else resolve(last);
      };
      let watchdog = setTimeout(() => stalled(), stallMs);
      const stalled = () => {
        this.stats.stalls++;
        finish(new Error(`watch silent for ${stallMs} ms (longer than the server keeps a watch open); assuming a dead connection`));
      };
      const w = this.client.watch(resourcePath(this.opts.resource), {
        resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: serverTimeout,
        labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector,
      }, (type, obj) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => stalled(), stallMs);
        if (type === 'ERROR') {
          const code = obj?.code;
          finish(new ApiError(code ?? 500, obj?.reason ?? 'Unknown', obj?.message ?? 'watch error', obj));
          return;
        }
        const o = obj as T;
        if (o?.metadata?.resourceVersion) last = o.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        const k = objectKey(o);
        const old = this.cache.get(k);
        if (type === 'DELETED') {
          this.cache.delete(k);
          this.emit('delete', o);
        } else {
          this.cache.set(k, o);
          this.emit(old ? 'update' : 'add', o, old);
        }
      }, { metadataOnly: this.opts.metadataOnly });
      this.abortWatch = () => finish();
      w.done.then(() => finish(), (e) => finish(e));
    });
  }
}

const KINDS: Record<string, string> = {
  accesspolicies: 'AccessPolicy', approvalrequests: 'ApprovalRequest', deployments: 'Deployment', secrets: 'Secret',
  services: 'Service', configmaps: 'ConfigMap', serviceaccounts: 'ServiceAccount', leases: 'Lease', events: 'Event',
  namespaces: 'Namespace',
};
function kindOf(plural: string): string {
  return KINDS[plural] ?? plural.replace(/s$/, '').replace(/^./, (c) => c.toUpperCase());
}
