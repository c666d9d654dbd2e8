// OIDC settings of a cluster gateway, and their validation. Pure (no I/O, no jose), so the
// controller can check the chart's values with the same rules the gateway applies, and each
// caller can name the setting to fix in its own terms (a chart value, a flag).

export interface OidcOptions {
  /** The only `iss` accepted; its discovery document must name exactly this issuer. */
  issuerUrl: string;
  /** `aud` must contain this. */
  audience: string;
  /** Where the signing keys are; absent: discovered from the issuer. */
  jwksUrl?: string;
  usernameClaim?: string;
  groupsClaim?: string;
  usernamePrefix?: string;
  groupsPrefix?: string;
  /**
   * PEM certificates trusted for the issuer's discovery and JWKS (a provider behind a private
   * CA); absent: the system's trust store.
   */
  caBundle?: string;
}

/** OidcOptions with every default filled in: what the controller renders and hashes. */
export type ResolvedOidcOptions = Required<Omit<OidcOptions, 'jwksUrl' | 'caBundle'>> & { jwksUrl?: string; caBundle?: string };

export const OIDC_DEFAULTS = { usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' } as const;

export const OIDC_FIELDS = ['issuerUrl', 'audience', 'jwksUrl', 'usernameClaim', 'groupsClaim', 'usernamePrefix', 'groupsPrefix', 'caBundle'] as const;
export type OidcField = typeof OIDC_FIELDS[number];

export interface OidcFieldError { field: OidcField | 'oidc'; message: string }

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Why a URL may not be used to fetch an issuer's keys, or undefined if it may. */
export function urlProblem(s: string, what: 'issuer' | 'JWKS'): string | undefined {
  let u: URL;
  try { u = new URL(s); } catch { return `must be an absolute https URL, not ${JSON.stringify(s)}`; }
  // Keys fetched over plain http could be swapped by anyone on the path: only loopback (tests, a
  // local IdP) is exempt.
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) return `must be an https URL (got ${u.protocol}//${u.host})`;
  if (u.username || u.password) return 'must not carry a user name or password';
  if (what === 'issuer' && (u.search || u.hash)) return 'must not have a query or fragment (OpenID Connect Discovery 1.0)';
  return undefined;
}

/**
 * Checks raw settings (from JSON or YAML; empty strings count as unset for jwksUrl and caBundle) and fills
 * in defaults. A prefix may be empty (OIDC names then meet cluster names, on purpose), but no
 * prefix may start with `system:`: that namespace belongs to Kubernetes.
 */
export function validateOidcOptions(raw: unknown): { ok: true; value: ResolvedOidcOptions } | { ok: false; errors: OidcFieldError[] } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors: [{ field: 'oidc', message: 'must be an object' }] };
  const r = raw as Record<string, unknown>;
  const errors: OidcFieldError[] = [];
  for (const k of Object.keys(r)) if (!(OIDC_FIELDS as readonly string[]).includes(k)) errors.push({ field: 'oidc', message: `unknown setting ${k}` });
  const str = (f: OidcField): string | undefined => {
    const v = r[f];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') { errors.push({ field: f, message: 'must be a string' }); return undefined; }
    return v;
  };
  const issuerUrl = str('issuerUrl');
  if (!issuerUrl) errors.push({ field: 'issuerUrl', message: 'is required: the issuer (iss) of the tokens, e.g. https://login.example.com/realms/agents' });
  else { const p = urlProblem(issuerUrl, 'issuer'); if (p) errors.push({ field: 'issuerUrl', message: p }); }
  const audience = str('audience');
  if (!audience) errors.push({ field: 'audience', message: 'is required: the audience (aud) the tokens must carry, e.g. phigate' });
  const jwksUrl = str('jwksUrl') || undefined;
  if (jwksUrl) { const p = urlProblem(jwksUrl, 'JWKS'); if (p) errors.push({ field: 'jwksUrl', message: p }); }
  const caBundle = str('caBundle') || undefined;
  if (caBundle && !/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(caBundle)) {
    errors.push({ field: 'caBundle', message: 'must be PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)' });
  }
  const claim = (f: 'usernameClaim' | 'groupsClaim') => {
    const v = str(f);
    if (v === '') errors.push({ field: f, message: 'must not be empty' });
    return v || OIDC_DEFAULTS[f];
  };
  const prefix = (f: 'usernamePrefix' | 'groupsPrefix') => {
    const v = str(f) ?? OIDC_DEFAULTS[f];
    if (v.startsWith('system:')) errors.push({ field: f, message: 'must not start with system: (reserved for Kubernetes users, groups and ServiceAccounts)' });
    return v;
  };
  const value: ResolvedOidcOptions = {
    issuerUrl: issuerUrl ?? '', audience: audience ?? '',
    ...(jwksUrl ? { jwksUrl } : {}),
    usernameClaim: claim('usernameClaim'), groupsClaim: claim('groupsClaim'),
    usernamePrefix: prefix('usernamePrefix'), groupsPrefix: prefix('groupsPrefix'),
    ...(caBundle ? { caBundle } : {}),
  };
  return errors.length ? { ok: false, errors } : { ok: true, value };
}
