// Cluster mode: agents present a Kubernetes token (a ServiceAccount token from TokenRequest
// or a projected volume), checked with TokenReview for the gateway's audience. A token issued
// for anything else (the API server's default audience, another service) is refused, so a
// token leaked from elsewhere does not open the gateway; so is a ServiceAccount of another
// namespace: one namespace's agents never use another namespace's gateway.
import { createHash } from 'node:crypto';
import type { KubeClient } from '../kube/client.ts';
import type { Authenticator } from './auth.ts';
import type { Identity } from './identity.ts';

export interface TokenReviewOptions {
  audience: string;
  /** The gateway's namespace: ServiceAccounts of other namespaces are refused. */
  namespace: string;
  /** Answers are cached this long (by token digest), positive and negative. */
  cacheTtlMs?: number;
  log?: (m: string) => void;
  now?: () => number;
}

interface Review {
  status?: { authenticated?: boolean; error?: string; audiences?: string[]; user?: { username?: string; uid?: string; groups?: string[] } };
}

export function tokenReviewAuthenticator(client: KubeClient, o: TokenReviewOptions): Authenticator {
  const ttl = o.cacheTtlMs ?? 10_000;
  const now = o.now ?? Date.now;
  const cache = new Map<string, { at: number; id: Identity | null }>();
  return async (token) => {
    const key = createHash('sha256').update(token).digest('hex');
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttl) return hit.id;
    const review = await client.create<Review>({ group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews' }, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [o.audience] },
    });
    const id = identityOf(review, o);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { at: now(), id });
    return id;
  };
}

/** The identity a TokenReview vouches for, or null (with the reason logged). */
export function identityOf(review: Review, o: Pick<TokenReviewOptions, 'audience' | 'namespace' | 'log'>): Identity | null {
  const s = review.status;
  if (!s?.authenticated || !s.user?.username) {
    o.log?.(`token refused: ${s?.error || 'not authenticated'}`);
    return null;
  }
  // An API server that does not support audiences answers without them: refuse rather than guess.
  if (!s.audiences?.includes(o.audience)) {
    o.log?.(`token of ${s.user.username} refused: not issued for audience ${o.audience}`);
    return null;
  }
  const m = /^system:serviceaccount:([^:]+):/.exec(s.user.username);
  if (m && m[1] !== o.namespace) {
    o.log?.(`token of ${s.user.username} refused: a ServiceAccount of namespace ${m[1]}, not ${o.namespace}`);
    return null;
  }
  return { user: s.user.username, uid: s.user.uid, groups: s.user.groups ?? [] };
}
