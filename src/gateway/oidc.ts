// Cluster mode: agents may present a JWT from the organisation's identity provider, checked
// the way kube-apiserver's --oidc-* flags check it. The signature must verify against the
// issuer's published keys (asymmetric algorithms only), `iss` must be the configured issuer,
// `aud` must contain the audience, `exp` is required and nbf/iat are honoured with a small
// clock skew. Names are prefixed ("oidc:" by default) so an OIDC user never poses as a
// cluster user or a ServiceAccount. A refused token answers null (401) and the reason is
// logged; the token itself never is.
import { createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { caFetch, type FetchLike } from './ca-fetch.ts';
import type { Authenticator } from './auth.ts';
import type { Identity } from './identity.ts';
import { urlProblem, validateOidcOptions, type OidcOptions, type ResolvedOidcOptions } from './oidc-config.ts';

export type { OidcOptions } from './oidc-config.ts';

/** Never `none`, never HS*: a symmetric key would have to be shared with every verifier. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
export const CLOCK_SKEW_S = 60;
const FETCH_TIMEOUT_MS = 5_000;

export interface OidcRuntime {
  log?: (m: string) => void;
  /**
   * A token with an unknown key id refetches the JWKS at most this often (jose's cooldown;
   * default 30 s): a flood of made-up key ids cannot hammer the identity provider.
   */
  jwksCooldownMs?: number;
  /** After a failed discovery, wait this long before trying again (default 10 s). */
  discoveryRetryMs?: number;
}

export interface OidcAuthenticator extends Authenticator {
  readonly issuer: string;
}

/** Throws on settings that can never work (e.g. an http issuer), naming the setting. */
export function oidcAuthenticator(options: OidcOptions, rt: OidcRuntime = {}): OidcAuthenticator {
  const v = validateOidcOptions(options);
  if (!v.ok) throw new Error(`OIDC settings: ${v.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
  const o = v.value;
  const log = rt.log ?? (() => {});
  const keys = keySource(o, rt, log);
  const auth = async (token: string): Promise<Identity | null> => {
    let payload: JWTPayload;
    try {
      const getKey = await keys();
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: o.issuerUrl, audience: o.audience, algorithms: OIDC_ALGORITHMS,
        requiredClaims: ['exp'], clockTolerance: CLOCK_SKEW_S,
      }));
    } catch (e) {
      log(`OIDC token refused: ${reason(e)}`);
      return null;
    }
    const why = claimProblem(payload);
    if (why) { log(`OIDC token refused: ${why}`); return null; }
    const id = identityOf(payload, o);
    if (typeof id === 'string') { log(`OIDC token refused: ${id}`); return null; }
    return id;
  };
  return Object.assign(auth, { issuer: o.issuerUrl });
}

/**
 * Cluster mode's authenticator: a JWT that names the OIDC issuer is decided by OIDC alone (a
 * bad signature must not get a second chance elsewhere); any other token goes to `fallback`
 * (TokenReview).
 */
export function chainAuthenticators(oidc: OidcAuthenticator, fallback: Authenticator): Authenticator {
  return async (token) => (unverifiedIssuer(token) === oidc.issuer ? oidc(token) : fallback(token));
}

function unverifiedIssuer(token: string): string | undefined {
  try { return decodeJwt(token).iss; } catch { return undefined; }
}

/** Claims jose does not check for us: an `iat` in the future means a wrong clock or a forgery. */
function claimProblem(p: JWTPayload): string | undefined {
  if (p.iat !== undefined && p.iat > Date.now() / 1000 + CLOCK_SKEW_S) return '"iat" claim is in the future';
  return undefined;
}

/** The identity a verified token names, or why it names none. */
export function identityOf(p: JWTPayload, o: ResolvedOidcOptions): Identity | string {
  const name = p[o.usernameClaim];
  if (typeof name !== 'string' || name === '') return `no ${o.usernameClaim} claim (a non-empty string) to name the user`;
  // An address the provider has not verified could be anyone's (kube-apiserver refuses it too).
  if (o.usernameClaim === 'email' && p.email_verified !== undefined && p.email_verified !== true) return 'email_verified is not true';
  const raw = p[o.groupsClaim];
  let groups: string[];
  if (raw === undefined || raw === null) groups = [];
  else if (typeof raw === 'string') groups = [raw];
  else if (Array.isArray(raw) && raw.every((g) => typeof g === 'string')) groups = raw as string[];
  else return `the ${o.groupsClaim} claim is neither a string nor a list of strings`;
  const user = o.usernamePrefix + name;
  const prefixed = groups.map((g) => o.groupsPrefix + g);
  // With an empty prefix a provider could otherwise mint Kubernetes' own names.
  if (user.startsWith('system:')) return 'the user name would start with system:';
  if (prefixed.some((g) => g.startsWith('system:'))) return 'a group name would start with system:';
  return { user, groups: prefixed };
}

/**
 * The issuer's keys: the configured JWKS URL, or the one its discovery document names. Keys
 * are jose's remote set: refetched when a token names an unknown key id (rotation, after the
 * cooldown) and when the copy is older than jose's cache age, so a withdrawn key stops
 * working then. Discovery runs on first use and is retried after a failure, so a gateway
 * starts (and serves ServiceAccount tokens) while the provider is down.
 */
function keySource(o: ResolvedOidcOptions, rt: OidcRuntime, log: (m: string) => void): () => Promise<JWTVerifyGetKey> {
  // A private CA is trusted for this provider only, not process-wide (NODE_EXTRA_CA_CERTS would
  // also extend it to the API server and the warehouse).
  const get: FetchLike = o.caBundle ? caFetch(o.caBundle) : fetch;
  const remote = (url: string) => createRemoteJWKSet(new URL(url), {
    timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: rt.jwksCooldownMs ?? 30_000,
    ...(o.caBundle ? { [customFetch]: get } : {}),
  });
  if (o.jwksUrl) { const set = remote(o.jwksUrl); return async () => set; }
  const retryMs = rt.discoveryRetryMs ?? 10_000;
  let found: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = -Infinity;
  let failure = '';
  return () => {
    if (found) return found;
    if (Date.now() - failedAt < retryMs) return Promise.reject(new Error(`discovery of ${o.issuerUrl} failed (${failure}); retrying within ${Math.ceil(retryMs / 1000)} s`));
    found = discover(o.issuerUrl, get).then((jwksUri) => {
      log(`OIDC issuer ${o.issuerUrl}: signing keys at ${jwksUri}`);
      return remote(jwksUri);
    }, (e) => {
      failedAt = Date.now();
      failure = reason(e);
      found = undefined;
      throw e;
    });
    return found;
  };
}

/** OpenID Connect Discovery 1.0: the document must name exactly our issuer. */
export async function discover(issuer: string, get: FetchLike = fetch): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const r = await get(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
  if (r.status !== 200) throw new Error(`discovery of ${issuer}: ${url} answered ${r.status}`);
  const doc = await r.json().catch(() => null) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (!doc || typeof doc !== 'object') throw new Error(`discovery of ${issuer}: ${url} is not a JSON object`);
  // A document naming another issuer could hand us someone else's keys (OIDC Discovery 4.3).
  if (doc.issuer !== issuer) throw new Error(`discovery of ${issuer}: the document names issuer ${JSON.stringify(doc.issuer)}; set the issuer URL to exactly that if it is the right provider`);
  if (typeof doc.jwks_uri !== 'string') throw new Error(`discovery of ${issuer}: the document has no jwks_uri`);
  const p = urlProblem(doc.jwks_uri, 'JWKS');
  if (p) throw new Error(`discovery of ${issuer}: jwks_uri ${p}`);
  return doc.jwks_uri;
}

/** A refusal reason safe to log: jose's messages name claims and checks, never their values. */
function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as Error & { code?: unknown }).code;
  const msg = typeof code === 'string' ? `${e.message} (${code})` : e.message;
  return e.cause instanceof Error ? `${msg}: ${e.cause.message}` : msg;
}
