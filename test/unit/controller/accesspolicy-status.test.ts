import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessPolicy } from '../../../src/api/types.ts';
import { checkPolicy } from '../../../src/controller/accesspolicy/check.ts';
import { referencedSecrets } from '../../../src/api/secret-refs.ts';
import { desiredStatus, readiness, statusChanged, validityEvent } from '../../../src/controller/accesspolicy/status.ts';

const now = new Date('2026-11-25T10:00:00Z');
const base = (spec: Partial<AccessPolicy['spec']> = {}, generation = 2): AccessPolicy => ({
  apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy',
  metadata: { name: 'claims', namespace: 'team-a', generation },
  spec: {
    warehouse: { type: 'duckdb', duckdb: { path: ':demo:' } },
    subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: 'team-a' }],
    access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }] },
    masking: { rules: [{ columns: ['PATIENTS.SSN'], strategy: 'redact' }] },
    ...spec,
  },
});
const none = () => undefined;
const snowflake = { type: 'snowflake' as const, snowflake: { account: 'xy1', database: 'D', schema: 'S', credentialsSecretRef: { name: 'sf' } } };
const deployment = (available: number) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'phigate-gateway' }, spec: { replicas: 2 }, status: { availableReplicas: available } });

describe('checkPolicy', () => {
  it('accepts a valid policy and says what it holds', () => {
    const c = checkPolicy(base(), none);
    assert.equal(c.valid, true);
    assert.equal(c.reason, 'Valid');
    assert.match(c.message, /1 table, 1 masking rule/);
  });

  it('reports schema errors with the field path', () => {
    const c = checkPolicy(base({ access: { statements: ['SELEKT' as any], tables: [] } }), none);
    assert.equal(c.valid, false);
    assert.equal(c.reason, 'InvalidSpec');
    assert.match(c.message, /spec\.access\.statements/);
  });

  it('reports what only a compile finds: a bad duration, a hash rule without a key', () => {
    const ttl = checkPolicy(base({ approval: { ttl: '15 minutes' } }), none);
    assert.equal(ttl.valid, false);
    const hash = checkPolicy(base({ masking: { rules: [{ columns: ['PATIENTS.MRN'], strategy: 'hash' }] } }), none);
    assert.deepEqual([hash.valid, hash.reason], [false, 'CompileFailed']);
    assert.match(hash.message, /hashKeySecretRef/);
  });

  it('names a missing or incomplete Secret and the keys it needs', () => {
    const p = base({ warehouse: snowflake });
    assert.deepEqual(referencedSecrets(p), ['sf']);
    const missing = checkPolicy(p, none);
    assert.deepEqual([missing.valid, missing.reason], [false, 'SecretNotFound']);
    assert.match(missing.message, /Secret team-a\/sf .* keys username and password/);
    const partial = checkPolicy(p, () => ['username']);
    assert.deepEqual([partial.valid, partial.reason], [false, 'SecretIncomplete']);
    assert.equal(checkPolicy(p, () => ['username', 'privateKey']).valid, true);
    const hashed = base({ masking: { rules: [{ columns: ['PATIENTS.MRN'], strategy: 'hash' }], hashKeySecretRef: { name: 'hk' } } });
    assert.equal(checkPolicy(hashed, () => ['other']).reason, 'SecretIncomplete');
    assert.equal(checkPolicy(hashed, () => ['hashKey']).valid, true);
  });
});

describe('AccessPolicy status', () => {
  const valid = checkPolicy(base(), none);

  it('is Ready only when the policy is valid and a gateway replica is available', () => {
    assert.equal(readiness(base(), valid, deployment(1), 'addr').status, 'True');
    assert.equal(readiness(base(), valid, deployment(1), 'addr').reason, 'GatewayAvailable');
    assert.equal(readiness(base(), valid, deployment(0), 'addr').reason, 'GatewayUnavailable');
    assert.equal(readiness(base(), valid, undefined, 'addr').reason, 'GatewayMissing');
    const invalid = { valid: false, reason: 'SecretNotFound', message: 'm' };
    const r = readiness(base(), invalid, deployment(2), 'addr');
    assert.deepEqual([r.status, r.reason], ['False', 'InvalidPolicy']);
  });

  it('carries observedGeneration, Valid and Ready, and the gateway Service address', () => {
    const s = desiredStatus(base(), valid, deployment(0), 'phigate-gateway.team-a.svc:8443', now);
    assert.equal(s.observedGeneration, 2);
    assert.deepEqual(s.conditions.map((c) => [c.type, c.status, c.observedGeneration]), [['Valid', 'True', 2], ['Ready', 'False', 2]]);
    assert.equal(s.gateway.service, 'phigate-gateway.team-a.svc:8443');
  });

  it('is not rewritten when nothing but time passed, and is when the generation moves', () => {
    const s = desiredStatus(base(), valid, deployment(0), 'a', now);
    const p = { ...base(), status: s };
    assert.equal(statusChanged(p, desiredStatus(p, valid, deployment(0), 'a', new Date(now.getTime() + 60_000))), false);
    const edited = { ...p, metadata: { ...p.metadata, generation: 3 } };
    assert.equal(statusChanged(edited, desiredStatus(edited, valid, deployment(0), 'a', now)), true);
    assert.equal(statusChanged(p, desiredStatus(p, valid, deployment(1), 'a', now)), true, 'Ready follows the Deployment');
  });

  it('ignores conditions other writers own', () => {
    const s = desiredStatus(base(), valid, deployment(0), 'a', now);
    const p = { ...base(), status: { ...s, conditions: [...s.conditions, { type: 'Loaded', status: 'True' as const, reason: 'X', message: '' }] } };
    const next = desiredStatus(p, valid, deployment(0), 'a', now);
    assert.deepEqual(next.conditions.map((c) => c.type), ['Valid', 'Ready']);
    assert.equal(statusChanged(p, next), false);
  });

  it('warns once when a policy becomes invalid and says so when it is fixed', () => {
    const bad = { valid: false, reason: 'SecretNotFound', message: 'Secret team-a/sf does not exist' };
    const fresh = base();
    assert.deepEqual(validityEvent(fresh, bad), { type: 'Warning', reason: 'SecretNotFound', message: bad.message });
    const afterBad = { ...fresh, status: desiredStatus(fresh, bad, undefined, 'a', now) };
    assert.equal(validityEvent(afterBad, bad), undefined, 'same problem: no new event');
    assert.equal(validityEvent(afterBad, valid)?.reason, 'Valid');
    const afterGood = { ...fresh, status: desiredStatus(fresh, valid, undefined, 'a', now) };
    assert.equal(validityEvent(afterGood, valid), undefined);
  });
});
