// Wiring of the AccessPolicy controller: which changes put which key on the queue. The key is
// a namespace, because a namespace's policies share one gateway. Policies enqueue their
// namespace; so do the gateway Deployments (availability feeds the Ready condition, and a
// Deployment found at start-up in a namespace without policies is cleaned up), and Secrets a
// policy names (one created after its policy turns Valid at once, not at the next resync).
import type { Logger } from 'winston';
import type { AccessPolicy } from '../../api/types.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import type { ControllerMetrics } from '../../metrics/controller.ts';
import { Controller } from '../runtime.ts';
import type { RenderOptions } from './render.ts';
import { referencedSecrets } from '../../api/secret-refs.ts';
import { AccessPolicySync } from './sync.ts';

export interface AccessPolicyControllerDeps {
  client: KubeClient;
  policies: Informer<AccessPolicy & KubeObject>;
  deployments: Informer;
  /** Secrets' metadata (names and versions only), all namespaces. */
  secrets: Informer;
  recorder: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  render: RenderOptions;
}

export function accessPolicyController(d: AccessPolicyControllerDeps): Controller {
  const sync = new AccessPolicySync({ client: d.client, policies: d.policies, recorder: d.recorder, log: d.log, render: d.render });
  const c = new Controller('accesspolicy', (ns) => sync.sync(ns), d.metrics, d.log);
  const enqueue = (_ev: string, obj: KubeObject) => { if (obj.metadata.namespace) c.queue.add(obj.metadata.namespace); };
  d.policies.on(enqueue);
  d.deployments.on(enqueue);
  d.secrets.on((_ev, s) => {
    const ns = s.metadata.namespace;
    if (ns && d.policies.list(ns).some((p) => referencedSecrets(p).includes(s.metadata.name))) c.queue.add(ns);
  });
  return c;
}
