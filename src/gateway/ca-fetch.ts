// A fetch for one identity provider behind a private CA: GET over node:https trusting exactly
// the given PEM certificates (Node's global fetch cannot take a CA per request). Redirects are
// never followed: the caller sees the 3xx and refuses it, as it does with fetch.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type FetchLike = (url: string, init: { headers?: HeadersInit; signal?: AbortSignal; redirect?: RequestRedirect; method?: string }) => Promise<Response>;

/** Largest document accepted (a discovery document or a JWKS is a few KiB). */
const MAX_BYTES = 1 << 20;

export function caFetch(caBundle: string): FetchLike {
  return (url, init) => new Promise<Response>((resolve, reject) => {
    const u = new URL(url);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const options = { method: 'GET', headers, signal: init.signal };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) { res.destroy(new Error(`${u.origin} sent more than ${MAX_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 502, headers: h }));
      });
      res.on('error', reject);
    };
    const req = u.protocol === 'https:'
      ? httpsRequest(u, { ...options, ca: caBundle }, onResponse)
      : httpRequest(u, options, onResponse);
    req.on('error', reject);
    req.end();
  });
}
