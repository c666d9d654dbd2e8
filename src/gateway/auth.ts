// Bearer-token authentication for the standalone gateway (kube-apiserver's static token
// file). Cluster mode adds TokenReview and OIDC behind the same Authenticator type.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Identity } from './identity.ts';

export type Authenticator = (token: string) => Promise<Identity | null>;

/** Constant-time lookup: compare digests so response timing does not reveal token prefixes. */
export function staticTokenAuthenticator(tokens: Map<string, { user: string; uid?: string; groups: string[] }>): Authenticator {
  const byDigest = new Map<string, Identity>();
  for (const [token, id] of tokens) byDigest.set(digest(token), { user: id.user, uid: id.uid, groups: id.groups });
  return async (token) => {
    const d = digest(token);
    for (const [k, id] of byDigest) if (timingSafeEqual(Buffer.from(k, 'hex'), Buffer.from(d, 'hex'))) return id;
    return null;
  };
}

const digest = (t: string) => createHash('sha256').update(t).digest('hex');

/** The token from `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}
