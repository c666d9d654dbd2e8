// metav1.Condition helpers with the API conventions: one condition per type, and
// lastTransitionTime changes only when status changes (a new message alone keeps the time).
import type { Condition } from '../api/types.ts';

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** A new list with `next` set; the original list is not modified. */
export function setCondition(conditions: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now);
  const c: Condition = { type: next.type, status: next.status, reason: next.reason, message: next.message, lastTransitionTime };
  if (next.observedGeneration !== undefined) c.observedGeneration = next.observedGeneration;
  if (i >= 0) list[i] = c; else list.push(c);
  return list;
}

/** Equal apart from lastTransitionTime (so a status that only re-stamps times is not rewritten). */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const strip = (l: readonly Condition[] | undefined) => [...(l ?? [])]
    .map(({ lastTransitionTime: _t, ...c }) => JSON.stringify(c, Object.keys(c).sort()))
    .sort();
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/** Kubernetes timestamps: RFC 3339 in seconds, UTC. */
export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
