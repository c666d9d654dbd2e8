// Watch a changing set of objects by name, one informer per name (list and watch with a
// metadata.name field selector). This is what RBAC's resourceNames allows: a Role that names
// two Secrets lets its holder watch those two, never list the namespace. The set follows
// whatever the caller wants now (the Secrets its policies name), starting and stopping
// informers as names come and go.
import type { KubeClient, KubeObject, ResourceRef } from './client.ts';
import { Informer, type InformerOptions } from './informer.ts';

export interface NamedWatchOptions {
  /** A namespaced resource (the namespace is required: names are only unique within one). */
  resource: Omit<ResourceRef, 'name' | 'subresource'> & { namespace: string };
  /** Called on every add, update or delete of a watched object. */
  onChange: () => void;
  log?: InformerOptions['log'];
  watchTimeoutSeconds?: number;
}

export class NamedWatch<T extends KubeObject = KubeObject> {
  private readonly informers = new Map<string, Informer<T>>();
  private stopped = false;

  constructor(private readonly client: KubeClient, private readonly opts: NamedWatchOptions) {}

  /**
   * Watch exactly `names`. Resolves when every newly watched name has synced, or after
   * `syncTimeoutMs` (a name this process may not read yet, say while the Role granting it is
   * being written, keeps retrying in the background and reports through onChange once read).
   */
  async want(names: Iterable<string>, syncTimeoutMs = 5_000): Promise<void> {
    if (this.stopped) return;
    const wanted = new Set(names);
    const gone = [...this.informers].filter(([n]) => !wanted.has(n));
    for (const [n] of gone) this.informers.delete(n);
    await Promise.all(gone.map(([, i]) => i.stop()));
    const started: Informer<T>[] = [];
    for (const n of wanted) {
      if (this.informers.has(n)) continue;
      const inf = new Informer<T>(this.client, {
        resource: this.opts.resource,
        fieldSelector: `metadata.name=${n}`,
        watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
        log: this.opts.log,
      });
      inf.on(() => this.opts.onChange());
      this.informers.set(n, inf);
      inf.start();
      started.push(inf);
    }
    // Only names new to this call are waited for: one that could not be read before keeps
    // retrying in the background and must not hold up every later reload.
    const pending = started.filter((i) => !i.hasSynced());
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(pending.map((i) => i.waitForSync())),
      new Promise<void>((r) => { timer = setTimeout(r, syncTimeoutMs); }),
    ]);
    clearTimeout(timer);
  }

  /** The watched objects that exist (names not read yet, or absent, are missing). */
  list(): T[] {
    return [...this.informers.values()].flatMap((i) => i.list());
  }

  /** Names whose first list has not succeeded yet (not readable, or still loading). */
  unsynced(): string[] {
    return [...this.informers].filter(([, i]) => !i.hasSynced()).map(([n]) => n).sort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.informers.values()];
    this.informers.clear();
    await Promise.all(all.map((i) => i.stop()));
  }
}
