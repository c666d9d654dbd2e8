// The Secrets an AccessPolicy names, in one place: the controller checks them and grants the
// gateway exactly these (Role resourceNames); the gateway watches exactly these.
import type { AccessPolicy } from './types.ts';

/** Sorted, without duplicates. Snowflake credentials count only for a Snowflake warehouse. */
export function referencedSecrets(policy: AccessPolicy): string[] {
  const names = new Set<string>();
  const cred = policy.spec.warehouse?.snowflake?.credentialsSecretRef?.name;
  if (policy.spec.warehouse?.type === 'snowflake' && cred) names.add(cred);
  const hash = policy.spec.masking?.hashKeySecretRef?.name;
  if (hash) names.add(hash);
  return [...names].sort();
}
