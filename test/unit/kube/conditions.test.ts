import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conditionsEqual, findCondition, isTrue, rfc3339, setCondition } from '../../../src/kube/conditions.ts';

const t1 = new Date('2026-11-25T10:00:00.123Z');
const t2 = new Date('2026-11-25T11:00:00Z');

describe('conditions', () => {
  it('adds a condition with a transition time in RFC 3339 seconds', () => {
    const c = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Waiting', message: 'm' }, t1);
    assert.deepEqual(c, [{ type: 'Ready', status: 'False', reason: 'Waiting', message: 'm', lastTransitionTime: '2026-11-25T10:00:00Z' }]);
  });

  it('keeps lastTransitionTime when only reason or message change', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t1);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, t2);
    assert.equal(b[0]!.lastTransitionTime, '2026-11-25T10:00:00Z');
    assert.equal(b[0]!.reason, 'B');
  });

  it('moves lastTransitionTime when the status changes', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: '' }, t1);
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'A', message: '' }, t2);
    assert.equal(b[0]!.lastTransitionTime, rfc3339(t2));
  });

  it('leaves other types and the input list alone', () => {
    const a = setCondition(undefined, { type: 'Valid', status: 'True', reason: 'V', message: '' }, t1);
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'R', message: '', observedGeneration: 3 }, t2);
    assert.equal(a.length, 1);
    assert.deepEqual(b.map((c) => c.type), ['Valid', 'Ready']);
    assert.equal(findCondition(b, 'Ready')?.observedGeneration, 3);
    assert.ok(isTrue(b, 'Valid'));
    assert.ok(!isTrue(b, 'Missing'));
  });

  it('compares lists ignoring transition times and order', () => {
    const a = setCondition(setCondition(undefined, { type: 'A', status: 'True', reason: 'x', message: '' }, t1), { type: 'B', status: 'False', reason: 'y', message: '' }, t1);
    const b = [{ ...a[1]!, lastTransitionTime: 'later' }, a[0]!];
    assert.ok(conditionsEqual(a, b));
    assert.ok(!conditionsEqual(a, [a[0]!]));
    assert.ok(!conditionsEqual(a, [{ ...a[0]!, message: 'changed' }, a[1]!]));
    assert.ok(conditionsEqual(undefined, []));
  });
});
