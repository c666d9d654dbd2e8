// The AccessPolicy business rule, for one namespace (the work queue's key): the namespace's
// live policies get one gateway; with none left, the controller deletes the gateway itself
// (ownerReferences would let a garbage collector do it, but the controller does not rely
// on one running). Level-triggered and idempotent: it reads the current state, applies what
// render() says (server-side apply, so an unchanged object is not rewritten), and writes each
// policy's status only when it changed.
import type { Logger } from 'winston';
import type { AccessPolicy } from '../../api/types.ts';
import { API_VERSION } from '../../api/types.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import { isNotFound, refOf, resourceOf } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import { referencedSecrets } from '../../api/secret-refs.ts';
import { checkPolicy } from './check.ts';
import { clusterRoleBindingName, MANAGED_SELECTOR, render, type RenderOptions } from './render.ts';
import { desiredStatus, statusChanged, validityEvent } from './status.ts';

export const FIELD_MANAGER = 'phigate-controller';

/** Deleted in this order when the last policy goes (the Deployment first, so nothing serves with half its RBAC). */
const GATEWAY_KINDS: [string, string][] = [
  ['apps/v1', 'Deployment'], ['v1', 'Service'], ['v1', 'ConfigMap'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'], ['rbac.authorization.k8s.io/v1', 'Role'], ['v1', 'ServiceAccount'],
];

export interface AccessPolicySyncDeps {
  client: KubeClient;
  policies: Informer<AccessPolicy & KubeObject>;
  recorder: EventRecorder;
  log: Logger;
  render: RenderOptions;
  now?: () => Date;
}

export class AccessPolicySync {
  constructor(private readonly d: AccessPolicySyncDeps) {}

  async sync(namespace: string): Promise<void> {
    const policies = this.d.policies.list(namespace).filter((p) => !p.metadata.deletionTimestamp);
    if (policies.length === 0) {
      await this.removeGateway(namespace);
      return;
    }
    const rendered = render(namespace, policies, this.d.render);
    const created: string[] = [];
    const updated: string[] = [];
    const apply = async (obj: KubeObject, before: KubeObject | undefined) => {
      const after = await this.d.client.apply(refOf(obj), obj, FIELD_MANAGER);
      if (!before) created.push(obj.kind);
      else if (before.metadata.resourceVersion !== after.metadata.resourceVersion) updated.push(obj.kind);
    };
    // Everything but the Deployment first: the gateway never starts without its RBAC and config.
    const deployment = rendered.namespaced.find((o) => o.kind === 'Deployment')!;
    for (const obj of [...rendered.namespaced.filter((o) => o !== deployment), ...rendered.cluster]) {
      await apply(obj, await this.d.client.find(refOf(obj)));
    }
    // Status before the Deployment, so whoever sees the gateway appear also finds the status
    // that explains it. Readiness comes from the Deployment as it is (an apply does not change
    // its availability; the Deployment informer brings us back when that changes).
    const existing = await this.d.client.find(refOf(deployment));
    const secrets = await this.secretKeys(namespace, policies);
    const now = this.d.now?.() ?? new Date();
    const checks = new Map(policies.map((p) => [p.metadata.name, checkPolicy(p, (name) => secrets.get(name))]));
    for (const policy of policies) {
      const check = checks.get(policy.metadata.name)!;
      const status = desiredStatus(policy, check, existing ?? deployment, rendered.serviceAddress, now);
      if (!statusChanged(policy, status)) continue;
      try {
        // Server-side apply on the status subresource: this controller owns observedGeneration,
        // gateway and the Valid/Ready conditions; a gateway's own conditions are left alone.
        await this.d.client.apply(refOf(policy, 'status'), {
          apiVersion: API_VERSION, kind: 'AccessPolicy',
          metadata: { name: policy.metadata.name, namespace, uid: policy.metadata.uid },
          status,
        }, FIELD_MANAGER);
      } catch (e) {
        if (isNotFound(e)) continue; // deleted meanwhile; its delete event brings us back
        throw e;
      }
    }
    await apply(deployment, existing);

    if (created.length || updated.length) {
      this.d.log.info(`gateway in ${namespace}: ${created.length ? `created ${created.join(', ')}` : ''}${created.length && updated.length ? '; ' : ''}${updated.length ? `updated ${updated.join(', ')}` : ''} (policies: ${policies.map((p) => p.metadata.name).join(', ')})`);
    }
    for (const policy of policies) {
      if (created.length) void this.d.recorder.record(policy, 'Normal', 'GatewayCreated', `created ${created.join(', ')} ${namespace}/phigate-gateway; serving at ${rendered.serviceAddress}`);
      else if (updated.length) void this.d.recorder.record(policy, 'Normal', 'GatewayUpdated', `updated ${updated.join(', ')} ${namespace}/phigate-gateway`);
      const ev = validityEvent(policy, checks.get(policy.metadata.name)!);
      if (ev) void this.d.recorder.record(policy, ev.type, ev.reason, ev.message);
    }
  }

  private async secretKeys(namespace: string, policies: AccessPolicy[]): Promise<Map<string, string[] | undefined>> {
    const out = new Map<string, string[] | undefined>();
    for (const name of new Set(policies.flatMap(referencedSecrets))) {
      const s = await this.d.client.find<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'secrets', namespace, name });
      out.set(name, s ? Object.keys(s.data ?? {}) : undefined);
    }
    return out;
  }

  private async removeGateway(namespace: string): Promise<void> {
    const deleted: string[] = [];
    for (const [apiVersion, kind] of GATEWAY_KINDS) {
      const ref = resourceOf(apiVersion, kind, namespace);
      const list = await this.d.client.list(ref, { labelSelector: MANAGED_SELECTOR });
      for (const item of list.items) {
        if (await this.d.client.delete({ ...ref, name: item.metadata.name }, { uid: item.metadata.uid })) deleted.push(`${kind} ${item.metadata.name}`);
      }
    }
    const crb = { ...resourceOf('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'), name: clusterRoleBindingName(namespace) };
    if (await this.d.client.delete(crb)) deleted.push(`ClusterRoleBinding ${crb.name}`);
    if (deleted.length) this.d.log.info(`gateway in ${namespace} removed (no AccessPolicy left): deleted ${deleted.join(', ')}`);
  }
}
