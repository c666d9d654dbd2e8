// Events (core/v1) about an object, as `kubectl describe` shows them. Repeats of the same
// reason and message on the same object bump the existing Event's count instead of adding
// another, like client-go's recorder. Recording never fails the caller: an Event is advice.
import { randomBytes } from 'node:crypto';
import type { KubeClient, KubeObject } from './client.ts';
import { isNotFound } from './client.ts';
import { rfc3339 } from './conditions.ts';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: (m: string) => void = () => {},
  ) {}

  /** Record and forget; resolves when written (or when writing failed, which is only logged). */
  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid ?? `${namespace}/${obj.metadata.name}`}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = rfc3339(new Date());
    try {
      const prev = this.seen.get(key);
      if (prev) {
        try {
          prev.count++;
          await this.client.mergePatch({ group: '', version: 'v1', plural: 'events', namespace: prev.namespace, name: prev.name }, { count: prev.count, lastTimestamp: now });
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.seen.delete(key); // expired (events live an hour): write a new one
        }
      }
      const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
      await this.client.create({ group: '', version: 'v1', plural: 'events', namespace }, {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name, namespace },
        involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
        type, reason, message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component, reportingInstance: this.instance,
        firstTimestamp: now, lastTimestamp: now, count: 1,
      });
      this.seen.set(key, { name, namespace, count: 1 });
      if (this.seen.size > 2000) this.seen.delete(this.seen.keys().next().value!);
    } catch (e) {
      this.log(`could not record event ${reason} on ${obj.kind} ${namespace}/${obj.metadata.name}: ${String(e)}`);
    }
  }
}
