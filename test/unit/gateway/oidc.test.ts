// The OIDC authenticator against a real identity provider on loopback (test/helpers/idp.ts):
// real keys, real signatures, real discovery and JWKS over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT } from 'jose';
import { chainAuthenticators, oidcAuthenticator, type OidcRuntime } from '../../../src/gateway/oidc.ts';
import type { OidcOptions } from '../../../src/gateway/oidc-config.ts';
import { validateOidcOptions } from '../../../src/gateway/oidc-config.ts';
import { startIdp, type TestIdp } from '../../helpers/idp.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let idp: TestIdp;
before(async () => { idp = await startIdp(); });
after(async () => { await idp?.close(); });

const now = () => Math.floor(Date.now() / 1000);
/** An authenticator for the test IdP, and what it logged. */
const make = (o: Partial<OidcOptions> = {}, rt: OidcRuntime = {}) => {
  const logs: string[] = [];
  const auth = oidcAuthenticator({ issuerUrl: idp.issuer, audience: 'phigate', ...o }, { log: (m) => logs.push(m), ...rt });
  return { auth, logs };
};
const refused = async (token: string, re: RegExp, o: Partial<OidcOptions> = {}) => {
  const { auth, logs } = make(o);
  assert.equal(await auth(token), null);
  assert.match(logs.join('\n'), re);
  assert.ok(!logs.join('\n').includes(token), 'the token is never logged');
};

describe('OIDC authenticator', () => {
  it('accepts a valid token: the user and groups come prefixed with oidc:', async () => {
    const { auth } = make();
    assert.deepEqual(await auth(await idp.token({ sub: 'alice', groups: ['analysts', 'oncall'] })), { user: 'oidc:alice', groups: ['oidc:analysts', 'oidc:oncall'] });
    assert.deepEqual(await auth(await idp.token({ sub: 'bob', groups: 'analysts' })), { user: 'oidc:bob', groups: ['oidc:analysts'] }, 'a single group as a string');
    assert.deepEqual(await auth(await idp.token({ sub: 'carol' })), { user: 'oidc:carol', groups: [] }, 'no groups claim: no groups');
  });

  it('takes the user and groups from the configured claims, with the configured prefixes', async () => {
    const { auth } = make({ usernameClaim: 'preferred_username', groupsClaim: 'roles', usernamePrefix: 'corp/', groupsPrefix: 'corp-group/' });
    assert.deepEqual(await auth(await idp.token({ preferred_username: 'alice', roles: ['analysts'], groups: ['ignored'] })), { user: 'corp/alice', groups: ['corp-group/analysts'] });
  });

  it('refuses a token for another audience', async () => {
    await refused(await idp.token({ aud: 'kubernetes' }), /"aud"/);
    assert.notEqual(await make().auth(await idp.token({ aud: ['kubernetes', 'phigate'] })), null, 'aud is a list that contains ours');
  });

  it('refuses a token from another issuer, even signed by the right key', async () => {
    await refused(await idp.token({ iss: 'https://evil.example.com' }), /"iss"/);
  });

  it('refuses an expired token, and one without exp', async () => {
    await refused(await idp.token({ iat: now() - 7200, exp: now() - 600 }), /"exp"/);
    await refused(await idp.token({ exp: undefined }), /missing required "exp"/);
  });

  it('honours nbf and iat with a small clock skew', async () => {
    await refused(await idp.token({ nbf: now() + 600 }), /"nbf"/);
    await refused(await idp.token({ iat: now() + 600 }), /"iat" claim is in the future/);
    assert.notEqual(await make().auth(await idp.token({ nbf: now() + 20, iat: now() + 20 })), null, 'a clock 20 s ahead is tolerated');
  });

  it('refuses alg none and HS256 (signed with the public key as an HMAC secret, or any secret)', async () => {
    await refused(new UnsecuredJWT({ iss: idp.issuer, aud: 'phigate', sub: 'alice', exp: now() + 600 }).encode(), /"alg" .*not allowed/);
    const key = idp.published[0]!;
    const hs = (secret: Uint8Array) => new SignJWT({ iss: idp.issuer, aud: 'phigate', sub: 'alice', exp: now() + 600 }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
    await refused(await hs(new TextEncoder().encode(JSON.stringify(key.publicJwk))), /"alg" .*not allowed/);
    await refused(await hs(new Uint8Array(32).fill(7)), /"alg" .*not allowed/);
  });

  it('refuses a token signed by a key the issuer does not publish', async () => {
    const stranger = await idp.newKey('RS256', 'stranger');
    await refused(await idp.token({}, stranger), /no applicable key|JWKS/i);
    const samekid = { ...(await idp.newKey('RS256')), kid: idp.published[0]!.kid };
    await refused(await idp.token({}, samekid), /signature verification failed/, {});
  });

  it('follows key rotation: a token with a new key id refetches the JWKS', async () => {
    const { auth } = make({}, { jwksCooldownMs: 0 });
    assert.notEqual(await auth(await idp.token()), null);
    const fetched = idp.jwksFetches;
    const next = await idp.newKey('ES256');
    idp.published.push(next);
    try {
      assert.deepEqual(await auth(await idp.token({ sub: 'rotated' }, next)), { user: 'oidc:rotated', groups: [] });
      assert.equal(idp.jwksFetches, fetched + 1, 'fetched once more for the unknown key id');
      assert.notEqual(await auth(await idp.token({}, next)), null);
      assert.equal(idp.jwksFetches, fetched + 1, 'and kept it');
    } finally {
      idp.published.pop();
    }
  });

  it('refuses a token without the username claim, or with email_verified false when the user is the email', async () => {
    await refused(await idp.token({ sub: undefined }), /no sub claim/);
    await refused(await idp.token({ sub: 42 as unknown as string }), /no sub claim/);
    await refused(await idp.token({ email: 'alice@example.com', email_verified: false }), /email_verified is not true/, { usernameClaim: 'email' });
    const { auth } = make({ usernameClaim: 'email' });
    assert.equal((await auth(await idp.token({ email: 'alice@example.com', email_verified: true })))?.user, 'oidc:alice@example.com');
    assert.equal((await auth(await idp.token({ email: 'alice@example.com' })))?.user, 'oidc:alice@example.com', 'absent email_verified is accepted, as kube-apiserver does');
  });

  it('refuses a groups claim that is neither a string nor a list of strings', async () => {
    await refused(await idp.token({ groups: [1, 2] }), /groups claim is neither/);
    await refused(await idp.token({ groups: { admin: true } }), /groups claim is neither/);
  });

  it('never lets a provider mint a system: name, even with an empty prefix', async () => {
    await refused(await idp.token({ sub: 'system:serviceaccount:team-a:coding-agent' }), /start with system:/, { usernamePrefix: '' });
    await refused(await idp.token({ groups: ['system:masters'] }), /start with system:/, { groupsPrefix: '' });
    assert.equal((await make().auth(await idp.token({ sub: 'system:admin' })))?.user, 'oidc:system:admin', 'the default prefix keeps it apart');
  });

  it('refuses everything when the discovery document names another issuer', async () => {
    idp.discoveryIssuer = `${idp.issuer}/other`;
    try {
      await refused(await idp.token(), /names issuer .*\/other/);
    } finally {
      idp.discoveryIssuer = undefined;
    }
  });

  it('uses a configured JWKS URL without discovery', async () => {
    const before = idp.discoveryFetches;
    const { auth } = make({ jwksUrl: idp.jwksUrl });
    assert.notEqual(await auth(await idp.token()), null);
    assert.equal(idp.discoveryFetches, before);
  });

  it('retries discovery after the provider was unreachable, not on every token', async () => {
    const down = await startIdp();
    const issuer = down.issuer;
    await down.close();
    const logs: string[] = [];
    const auth = oidcAuthenticator({ issuerUrl: issuer, audience: 'phigate' }, { log: (m) => logs.push(m), discoveryRetryMs: 60_000 });
    assert.equal(await auth(await idp.token({ iss: issuer })), null);
    assert.equal(await auth(await idp.token({ iss: issuer })), null);
    assert.match(logs[0]!, /fetch failed|ECONNREFUSED/);
    assert.match(logs[1]!, /retrying within 60 s/);
  });

  it('refuses at construction an issuer or JWKS URL that is not https (loopback excepted), saying which', () => {
    assert.throws(() => oidcAuthenticator({ issuerUrl: 'http://login.example.com', audience: 'phigate' }), /issuerUrl must be an https URL \(got http:\/\/login.example.com\)/);
    assert.throws(() => oidcAuthenticator({ issuerUrl: 'https://login.example.com', audience: 'phigate', jwksUrl: 'http://keys.example.com/jwks' }), /jwksUrl must be an https URL/);
    assert.throws(() => oidcAuthenticator({ issuerUrl: 'https://login.example.com', audience: '' }), /audience is required/);
    assert.throws(() => oidcAuthenticator({ issuerUrl: 'https://login.example.com?x=1', audience: 'a' }), /query or fragment/);
    for (const ok of ['https://login.example.com/realms/a', 'http://127.0.0.1:5556', 'http://[::1]:5556/dex', 'http://localhost:8080']) {
      assert.doesNotThrow(() => oidcAuthenticator({ issuerUrl: ok, audience: 'phigate' }), ok);
    }
  });

  it('validates settings without I/O and fills in the defaults', () => {
    assert.deepEqual(validateOidcOptions({ issuerUrl: 'https://idp.example.org', audience: 'phigate', jwksUrl: '' }), {
      ok: true, value: { issuerUrl: 'https://idp.example.org', audience: 'phigate', usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' },
    });
    const bad = validateOidcOptions({ issuerUrl: 'https://idp.example.org', audience: 'phigate', usernamePrefix: 'system:oidc:', extra: 1 });
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.errors.map((e) => e.field), ['oidc', 'usernamePrefix']);
  });
});

describe('an identity provider behind a private CA', () => {
  let tlsIdp: TestIdp;
  let ca = '';
  let otherCaPem = '';
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phigate-idp-ca-'));
    // A CA and a server certificate it signed for 127.0.0.1, as a company PKI would issue.
    const ssl = (args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (openssl is needed for this test: apt-get install openssl): ${r.stderr || r.error}`);
    };
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=phigate test CA', '-days', '1']);
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'idp.key', '-out', 'idp.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl(['x509', '-req', '-in', 'idp.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'idp.crt', '-days', '1', '-extfile', 'ext']);
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=another CA', '-days', '1']);
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    otherCaPem = readFileSync(join(dir, 'other.crt'), 'utf8');
    tlsIdp = await startIdp({ tls: { key: readFileSync(join(dir, 'idp.key'), 'utf8'), cert: readFileSync(join(dir, 'idp.crt'), 'utf8') } });
    rmSync(dir, { recursive: true, force: true });
  });
  after(async () => { await tlsIdp?.close(); });

  it('trusts the configured CA bundle for discovery and keys, and only then', async () => {
    const logs: string[] = [];
    const trusting = oidcAuthenticator({ issuerUrl: tlsIdp.issuer, audience: 'phigate', caBundle: ca }, { log: (m) => logs.push(m) });
    assert.deepEqual(await trusting(await tlsIdp.token({ sub: 'alice' })), { user: 'oidc:alice', groups: [] }, logs.join('\n'));
    assert.equal(tlsIdp.discoveryFetches, 1);
    assert.equal(tlsIdp.jwksFetches, 1);

    const plain = make({ issuerUrl: tlsIdp.issuer });
    assert.equal(await plain.auth(await tlsIdp.token({ sub: 'alice' })), null, 'the system trust store does not know the private CA');
    assert.match(plain.logs.join('\n'), /certificate/i);

    const otherCa = make({ issuerUrl: tlsIdp.issuer, caBundle: otherCaPem });
    assert.equal(await otherCa.auth(await tlsIdp.token({ sub: 'alice' })), null, 'a bundle of another CA does not vouch for it');
  });

  it('refuses a CA bundle that is not PEM certificates, saying so', () => {
    const v = validateOidcOptions({ issuerUrl: tlsIdp.issuer, audience: 'phigate', caBundle: 'not a certificate' });
    assert.equal(v.ok, false);
    assert.match(JSON.stringify(!v.ok && v.errors), /caBundle.*PEM certificates/);
  });
});

describe('chained authenticator (cluster mode)', () => {
  const calls: string[] = [];
  const fallback = async (t: string) => { calls.push(t); return t === 'sa-token' ? { user: 'system:serviceaccount:team-a:a', groups: [] } : null; };

  it('sends a JWT naming the OIDC issuer to OIDC alone, and everything else to the fallback', async () => {
    const { auth: oidc } = make();
    const auth = chainAuthenticators(oidc, fallback);
    calls.length = 0;
    assert.equal((await auth(await idp.token()))?.user, 'oidc:alice');
    assert.equal((await auth('sa-token'))?.user, 'system:serviceaccount:team-a:a', 'not a JWT: TokenReview');
    const otherIssuer = await idp.token({ iss: 'https://kubernetes.default.svc' });
    assert.equal(await auth(otherIssuer), null);
    assert.deepEqual(calls, ['sa-token', otherIssuer], 'a JWT of another issuer goes to TokenReview');
  });

  it('refuses an OIDC-issuer JWT with a bad signature without asking the fallback', async () => {
    const { auth: oidc, logs } = make();
    const auth = chainAuthenticators(oidc, fallback);
    calls.length = 0;
    const forged = await idp.token({}, await idp.newKey('RS256', idp.published[0]!.kid));
    assert.equal(await auth(forged), null);
    const good = await idp.token();
    const tampered = good.slice(0, good.lastIndexOf('.') + 1) + 'A'.repeat(good.length - good.lastIndexOf('.') - 1);
    assert.equal(await auth(tampered), null);
    assert.deepEqual(calls, [], 'never falls through to TokenReview');
    assert.match(logs.join('\n'), /signature verification failed/);
  });
});

describe('phigate gateway OIDC settings (gateway.yaml auth.oidc, --oidc-* flags)', async () => {
  const { oidcSettings } = await import('../../../src/cli/gateway.ts');
  const config = { auth: { tokenReview: { audience: 'phigate' }, oidc: { issuerUrl: 'https://idp.example.org', audience: 'phigate', groupsPrefix: 'idp:' } } };

  it('reads auth.oidc from the config, each flag overriding its setting', () => {
    assert.equal(oidcSettings({}, {}), undefined, 'no OIDC unless configured');
    assert.deepEqual(oidcSettings(config, { oidcAudience: 'agents', oidcJwksUrl: 'https://idp.example.org/keys', oidcUsernamePrefix: '' }), {
      issuerUrl: 'https://idp.example.org', audience: 'agents', jwksUrl: 'https://idp.example.org/keys',
      usernameClaim: 'sub', groupsClaim: 'groups', usernamePrefix: '', groupsPrefix: 'idp:',
    });
    assert.equal(oidcSettings({}, { oidcIssuerUrl: 'https://other.example.org', oidcAudience: 'a' })?.issuerUrl, 'https://other.example.org');
  });

  it('names the flag and the config key of each unusable setting', () => {
    assert.throws(() => oidcSettings({}, { oidcIssuerUrl: 'http://idp.example.org' }), /--oidc-issuer-url \(auth.oidc.issuerUrl in --config\) must be an https URL.*--oidc-audience \(auth.oidc.audience in --config\) is required/);
    assert.throws(() => oidcSettings({}, { oidcGroupsClaim: 'roles' }), /--oidc-issuer-url .* is required/);
    assert.throws(() => oidcSettings({ auth: { oidc: 'https://idp.example.org' as any } }, {}), /auth.oidc in --config must be a mapping/);
  });

  it('reads the CA bundle from --oidc-ca-file (never PEM on a command line), else from auth.oidc.caBundle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'phigate-oidc-ca-'));
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.crt'), pem);
    writeFileSync(join(dir, 'junk.txt'), 'hello');
    try {
      assert.equal(oidcSettings(config, { oidcCaFile: join(dir, 'ca.crt') })?.caBundle, pem);
      assert.equal(oidcSettings({ auth: { oidc: { ...config.auth.oidc, caBundle: pem } } }, {})?.caBundle, pem);
      assert.equal(oidcSettings(config, {})?.caBundle, undefined);
      assert.throws(() => oidcSettings(config, { oidcCaFile: join(dir, 'nope.crt') }), /--oidc-ca-file .*nope\.crt cannot be read/);
      assert.throws(() => oidcSettings(config, { oidcCaFile: join(dir, 'junk.txt') }), /--oidc-ca-file \(auth.oidc.caBundle in --config\) must be PEM certificates/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
