import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, hashRecord, GENESIS_HASH } from '../../../src/audit/chain.ts';

test('canonical JSON sorts keys at every depth and has no whitespace', () => {
  const value = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x y' } };
  assert.equal(canonicalJson(value), '{"a":{"c":"x y","d":[3,{"y":null,"z":true}]},"b":1}');
});

test('canonical JSON leaves out undefined properties, as JSON.stringify does', () => {
  assert.equal(canonicalJson({ a: 1, code: undefined }), '{"a":1}');
});

test('canonical JSON writes numbers and strings as JSON.stringify does', () => {
  assert.equal(canonicalJson([0.4, 1e21, -0, 12, 'é\u0001"\\']), '[0.4,1e+21,0,12,"é\\u0001\\"\\\\"]');
});

test('canonical JSON rejects what would not survive a round trip', () => {
  for (const bad of [NaN, Infinity, 1n, new Date(0), [undefined], () => 1, new Map()]) {
    assert.throws(() => canonicalJson(bad), TypeError, String(bad));
  }
});

test('canonical JSON of a value equals that of its JSON round trip', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    assert.equal(canonicalJson(JSON.parse(JSON.stringify(v))), canonicalJson(v));
  }));
});

test('hashRecord is SHA-256 of the canonical JSON without hash', () => {
  const expected = createHash('sha256').update('{"a":[1,"x"],"b":1}').digest('hex');
  assert.equal(hashRecord({ b: 1, a: [1, 'x'] }), expected);
  assert.equal(hashRecord({ b: 1, a: [1, 'x'], hash: 'anything' }), expected);
});

test('the genesis hash is 64 zeros', () => {
  assert.equal(GENESIS_HASH, '0'.repeat(64));
});
