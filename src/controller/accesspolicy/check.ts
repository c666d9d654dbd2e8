// Is a policy usable, as far as the controller can tell without a warehouse? The schema and
// CEL rules (src/api/validate.ts), a compile against an empty catalog (durations, column
// references, the hash strategy's key), and the Secrets it names. Pure: the caller looks the
// Secrets up. Messages say what to do, since a person reads them in `kubectl describe`.
import type { AccessPolicy } from '../../api/types.ts';
import { formatFieldErrors, validateAccessPolicy } from '../../api/validate.ts';
import { compilePolicy } from '../../policy/compile.ts';
import { StaticCatalog } from '../../warehouse/catalog.ts';

export interface PolicyCheck { valid: boolean; reason: string; message: string }

/** Secret name → the keys it has (undefined: no such Secret). */
export type SecretKeys = (name: string) => string[] | undefined;

export function checkPolicy(policy: AccessPolicy, secretKeys: SecretKeys): PolicyCheck {
  const v = validateAccessPolicy(policy);
  if (!v.ok) return { valid: false, reason: 'InvalidSpec', message: formatFieldErrors(v.errors).replace(/\n/g, '; ') };
  const p = v.value;
  const ns = p.metadata.namespace ?? 'default';

  const hashRef = p.spec.masking?.hashKeySecretRef?.name;
  try {
    // An empty catalog: the compile checks the policy's own structure; tables are checked
    // against the warehouse by the gateway, which reports them as warnings.
    compilePolicy(p, new StaticCatalog([]), { hashKey: hashRef ? 'controller-check' : undefined });
  } catch (e) {
    return { valid: false, reason: 'CompileFailed', message: e instanceof Error ? e.message : String(e) };
  }

  if (p.spec.warehouse.type === 'snowflake') {
    const name = p.spec.warehouse.snowflake!.credentialsSecretRef.name;
    const keys = secretKeys(name);
    if (!keys) return { valid: false, reason: 'SecretNotFound', message: `Secret ${ns}/${name} (warehouse.snowflake.credentialsSecretRef) does not exist; create it with keys username and password (or privateKey)` };
    if (!keys.includes('username') || !(keys.includes('password') || keys.includes('privateKey'))) {
      return { valid: false, reason: 'SecretIncomplete', message: `Secret ${ns}/${name} needs keys username and password (or privateKey); it has ${keys.join(', ') || 'no keys'}` };
    }
  }
  if (hashRef) {
    const keys = secretKeys(hashRef);
    if (!keys) return { valid: false, reason: 'SecretNotFound', message: `Secret ${ns}/${hashRef} (masking.hashKeySecretRef) does not exist; create it with key hashKey` };
    if (!keys.includes('hashKey')) return { valid: false, reason: 'SecretIncomplete', message: `Secret ${ns}/${hashRef} needs key hashKey; it has ${keys.join(', ') || 'no keys'}` };
  }
  const tables = p.spec.access.tables.length;
  const rules = p.spec.masking?.rules?.length ?? 0;
  return { valid: true, reason: 'Valid', message: `${tables} table${tables === 1 ? '' : 's'}, ${rules} masking rule${rules === 1 ? '' : 's'}; tables and columns are checked against the warehouse by the gateway` };
}
