// Who is calling, and which policies name them as a subject.
import type { Subject } from '../api/types.ts';

export interface Identity { user: string; uid?: string; groups: string[] }

/** ServiceAccounts authenticate as system:serviceaccount:<namespace>:<name>. */
export function subjectMatches(subject: Subject, id: Identity, policyNamespace: string): boolean {
  switch (subject.kind) {
    case 'User': return subject.name === id.user;
    case 'Group': return id.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace ?? policyNamespace;
      // An agent of another namespace never uses this namespace's policies.
      return ns === policyNamespace && id.user === `system:serviceaccount:${ns}:${subject.name}`;
    }
    default: return false;
  }
}
