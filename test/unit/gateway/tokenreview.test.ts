import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient } from '../../../src/kube/client.ts';
import { identityOf, tokenReviewAuthenticator } from '../../../src/gateway/tokenreview.ts';

const opts = { audience: 'phigate', namespace: 'team-a' };
const review = (username: string, audiences = ['phigate'], authenticated = true) =>
  ({ status: { authenticated, audiences, user: { username, uid: 'u1', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a'] } } });

describe('TokenReview authenticator', () => {
  it('accepts a ServiceAccount of its own namespace with the right audience', () => {
    assert.deepEqual(identityOf(review('system:serviceaccount:team-a:coding-agent'), opts), {
      user: 'system:serviceaccount:team-a:coding-agent', uid: 'u1', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a'],
    });
  });

  it('refuses tokens the API server did not authenticate, or issued for another audience, or that say no audience', () => {
    const why: string[] = [];
    const o = { ...opts, log: (m: string) => why.push(m) };
    assert.equal(identityOf(review('x', ['phigate'], false), o), null);
    assert.equal(identityOf(review('system:serviceaccount:team-a:a', ['https://kubernetes.default.svc']), o), null);
    assert.equal(identityOf({ status: { authenticated: true, user: { username: 'alice' } } }, o), null);
    assert.match(why[1]!, /not issued for audience phigate/);
  });

  it('refuses a ServiceAccount of another namespace, but not a person', () => {
    const why: string[] = [];
    assert.equal(identityOf(review('system:serviceaccount:team-b:coding-agent'), { ...opts, log: (m) => why.push(m) }), null);
    assert.match(why[0]!, /a ServiceAccount of namespace team-b, not team-a/);
    assert.equal(identityOf(review('alice@example.com'), opts)?.user, 'alice@example.com');
  });

  it('asks the API server once per token within the cache period, with the audience', async () => {
    let t = 0;
    const bodies: any[] = [];
    const client = { create: async (_ref: unknown, body: any) => { bodies.push(body); return review('system:serviceaccount:team-a:a'); } } as unknown as KubeClient;
    const auth = tokenReviewAuthenticator(client, { ...opts, cacheTtlMs: 1000, now: () => t });
    await auth('tok');
    await auth('tok');
    assert.equal(bodies.length, 1);
    assert.deepEqual(bodies[0].spec, { token: 'tok', audiences: ['phigate'] });
    t = 1000;
    await auth('tok');
    assert.equal(bodies.length, 2, 'asked again after the cache period');
  });
});
