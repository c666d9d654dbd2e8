// Wiring of the ApprovalRequest controller: every request is a key (namespace/name); the
// business rule is lifecycle(). Status is written with a merge patch that carries the
// resourceVersion read, so a concurrent decision or execution is never overwritten: on a
// conflict the newer object arrives through the informer and is judged again.
import type { Logger } from 'winston';
import type { ApprovalRequest } from '../../api/types.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import { isConflict, isNotFound, refOf } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { objectKey, type Informer } from '../../kube/informer.ts';
import type { ControllerMetrics } from '../../metrics/controller.ts';
import { Controller } from '../runtime.ts';
import { lifecycle } from './lifecycle.ts';

export interface ApprovalRequestControllerDeps {
  client: KubeClient;
  requests: Informer<ApprovalRequest & KubeObject>;
  recorder: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  /** How long after expiry a request is kept (for `kubectl get` and audit correlation). */
  retentionMs: number;
  now?: () => Date;
}

export function approvalRequestController(d: ApprovalRequestControllerDeps): Controller {
  const now = d.now ?? (() => new Date());
  const c = new Controller('approvalrequest', async (key) => {
    const req = d.requests.get(key);
    if (!req || req.metadata.deletionTimestamp) return;
    const lc = lifecycle(req, now(), d.retentionMs);
    if (lc.delete) {
      try {
        await d.client.delete(refOf(req), { uid: req.metadata.uid });
        d.log.info(`approvalrequest ${key} deleted: expired at ${req.spec.expiresAt}, retention over`);
      } catch (e) { if (!isConflict(e)) throw e; }
      return;
    }
    if (lc.status) {
      try {
        await d.client.mergePatch(refOf(req, 'status'), { metadata: { resourceVersion: req.metadata.resourceVersion }, status: lc.status });
        if (req.status?.phase !== lc.status.phase) d.log.info(`approvalrequest ${key}: ${req.status?.phase ?? '(new)'} -> ${lc.status.phase}`);
      } catch (e) {
        if (isNotFound(e)) return;
        // Changed meanwhile (a decision, an execution): the informer brings the new version.
        if (isConflict(e)) return { requeueAfterMs: 1000 };
        throw e;
      }
    }
    for (const ev of lc.events) void d.recorder.record(req, ev.type, ev.reason, ev.message);
    return lc.requeueAfterMs !== undefined ? { requeueAfterMs: lc.requeueAfterMs } : undefined;
  }, d.metrics, d.log);
  d.requests.on((_ev, obj) => c.queue.add(objectKey(obj)));
  return c;
}
