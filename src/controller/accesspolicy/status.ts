// An AccessPolicy's status from what the controller found: pure, so the wording a person reads
// in `kubectl describe` is tested without a cluster.
import type { AccessPolicy, AccessPolicyStatus, Condition } from '../../api/types.ts';
import type { KubeObject } from '../../kube/client.ts';
import { conditionsEqual, findCondition, setCondition } from '../../kube/conditions.ts';
import type { PolicyCheck } from './check.ts';
import { GATEWAY_NAME } from './render.ts';

/** The condition types this controller owns (a gateway may add others). */
export const OWN_CONDITIONS = ['Valid', 'Ready'];

export function readiness(policy: AccessPolicy, check: PolicyCheck, deployment: KubeObject | undefined, address: string): Omit<Condition, 'lastTransitionTime'> {
  const ns = policy.metadata.namespace ?? 'default';
  if (!check.valid) return { type: 'Ready', status: 'False', reason: 'InvalidPolicy', message: `the policy cannot be served (${check.reason}); see the Valid condition` };
  if (!deployment) return { type: 'Ready', status: 'False', reason: 'GatewayMissing', message: `gateway Deployment ${ns}/${GATEWAY_NAME} does not exist yet` };
  const spec = deployment.spec as { replicas?: number } | undefined;
  const st = deployment.status as { availableReplicas?: number } | undefined;
  const desired = spec?.replicas ?? 1;
  const available = st?.availableReplicas ?? 0;
  if (available >= 1) return { type: 'Ready', status: 'True', reason: 'GatewayAvailable', message: `gateway ${address}: ${available} of ${desired} replicas available` };
  return { type: 'Ready', status: 'False', reason: 'GatewayUnavailable', message: `gateway Deployment ${ns}/${GATEWAY_NAME} has 0 of ${desired} replicas available; see kubectl describe deployment -n ${ns} ${GATEWAY_NAME}` };
}

/** The status this controller wants: observedGeneration, its own conditions (Valid, Ready), the gateway address. */
export function desiredStatus(policy: AccessPolicy, check: PolicyCheck, deployment: KubeObject | undefined, address: string, now: Date): Required<Pick<AccessPolicyStatus, 'observedGeneration' | 'conditions' | 'gateway'>> {
  const generation = policy.metadata.generation ?? 0;
  const prev = policy.status?.conditions;
  let conditions = setCondition(prev, { type: 'Valid', status: check.valid ? 'True' : 'False', reason: check.reason, message: check.message, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { ...readiness(policy, check, deployment, address), observedGeneration: generation }, now);
  return {
    observedGeneration: generation,
    conditions: conditions.filter((c) => OWN_CONDITIONS.includes(c.type)),
    gateway: { service: address },
  };
}

/** Whether writing `next` would change anything (ignoring other writers' conditions). */
export function statusChanged(policy: AccessPolicy, next: ReturnType<typeof desiredStatus>): boolean {
  const cur = policy.status ?? {};
  if (cur.observedGeneration !== next.observedGeneration) return true;
  if (cur.gateway?.service !== next.gateway.service) return true;
  const mine = (cur.conditions ?? []).filter((c) => OWN_CONDITIONS.includes(c.type));
  return !conditionsEqual(mine, next.conditions);
}

/** The Event a change of the Valid condition deserves, if any. */
export function validityEvent(policy: AccessPolicy, check: PolicyCheck): { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined {
  const prev = findCondition(policy.status?.conditions, 'Valid');
  const was = prev ? prev.status === 'True' : undefined;
  if (!check.valid && (was !== false || prev?.reason !== check.reason || prev?.message !== check.message)) {
    return { type: 'Warning', reason: check.reason, message: check.message };
  }
  if (check.valid && was === false) return { type: 'Normal', reason: 'Valid', message: 'the policy is valid again' };
  return undefined;
}
