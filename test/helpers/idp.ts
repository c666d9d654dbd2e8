// A real, small OpenID Connect identity provider on loopback: a discovery document and a JWKS
// over node:http, keys from jose's generateKeyPair, tokens from jose's SignJWT. Tests rotate
// keys, publish a discovery document naming another issuer, and count JWKS fetches.
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface SigningKey { kid: string; alg: string; privateKey: CryptoKey; publicJwk: JWK }

export interface TestIdp {
  issuer: string;
  jwksUrl: string;
  /** Keys published in the JWKS; the first signs by default. */
  published: SigningKey[];
  /** What the discovery document says the issuer is (default: the real one). */
  discoveryIssuer?: string;
  jwksFetches: number;
  discoveryFetches: number;
  newKey(alg?: string, kid?: string): Promise<SigningKey>;
  /** A token for `claims` (iss, aud, sub, exp one hour ahead unless given), signed by `key`. */
  token(claims?: JWTPayload, key?: SigningKey): Promise<string>;
  close(): Promise<void>;
}

let serial = 0;

/** `tls`: serve https with this key and certificate (a provider behind a private CA). */
export async function startIdp(o: { audience?: string; tls?: { key: string; cert: string } } = {}): Promise<TestIdp> {
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const send = (body: unknown) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (req.url === '/.well-known/openid-configuration') {
      idp.discoveryFetches++;
      return send({ issuer: idp.discoveryIssuer ?? idp.issuer, jwks_uri: idp.jwksUrl, id_token_signing_alg_values_supported: ['RS256', 'ES256'] });
    }
    if (req.url === '/keys') {
      idp.jwksFetches++;
      return send({ keys: idp.published.map((k) => k.publicJwk) });
    }
    res.writeHead(404).end();
  };
  const server: Server = o.tls ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `${o.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const newKey = async (alg = 'RS256', kid = `k${++serial}`): Promise<SigningKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  };
  const idp: TestIdp = {
    issuer: base, jwksUrl: `${base}/keys`, published: [], jwksFetches: 0, discoveryFetches: 0, newKey,
    async token(claims = {}, key = idp.published[0]!) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: idp.issuer, aud: o.audience ?? 'phigate', sub: 'alice', iat: now, exp: now + 3600, ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .sign(key.privateKey);
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
  idp.published.push(await newKey());
  return idp;
}
