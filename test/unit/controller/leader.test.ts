import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leaseAction } from '../../../src/controller/leader.ts';

describe('leaseAction', () => {
  const D = 15_000;
  it('takes a lease that nobody holds (new, or released on shutdown)', () => {
    assert.equal(leaseAction(undefined, 'me', 0, 0, D), 'take');
    assert.equal(leaseAction({ holderIdentity: '' }, 'me', 0, 0, D), 'take');
  });
  it('renews its own lease', () => {
    assert.equal(leaseAction({ holderIdentity: 'me', leaseDurationSeconds: 15 }, 'me', 0, 1_000_000, D), 'renew');
  });
  it('waits while another holder renews within the lease duration, measured on its own clock', () => {
    assert.equal(leaseAction({ holderIdentity: 'other', leaseDurationSeconds: 15 }, 'me', 1000, 1000 + 14_999, D), 'wait');
    assert.equal(leaseAction({ holderIdentity: 'other', leaseDurationSeconds: 15 }, 'me', 1000, 1000 + 15_000, D), 'take');
  });
  it('uses the duration the holder wrote, not its own', () => {
    assert.equal(leaseAction({ holderIdentity: 'other', leaseDurationSeconds: 60 }, 'me', 0, 30_000, D), 'wait');
    assert.equal(leaseAction({ holderIdentity: 'other', leaseDurationSeconds: 1 }, 'me', 0, 1000, D), 'take');
  });
});
