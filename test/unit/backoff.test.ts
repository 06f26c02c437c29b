/** The one backoff (server/supervision/backoff.ts): exact without jitter, within [0, delay) with full jitter. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, restartDelay } from '../../server/supervision/backoff.ts';
import { seededRandom } from '../fixtures/seeded-random.ts';

const doubling = { initialMs: 30_000, factor: 2, maxMs: 300_000 };

test('without jitter: initial × factor^attempt, capped (the cache rebuild policy)', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 50].map((n) => backoffDelay(n, doubling)), [30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
  assert.equal(backoffDelay(3, doubling), restartDelay(3, { ...doubling, resetAfterMs: 0 }));
});

test('full jitter stays below the un-jittered delay and spreads over it', () => {
  const random = seededRandom(42);
  for (const attempt of [0, 1, 2, 5, 40]) {
    const ceiling = backoffDelay(attempt, doubling);
    const draws = Array.from({ length: 200 }, () => backoffDelay(attempt, { ...doubling, jitter: 'full' }, random));
    assert.ok(draws.every((d) => Number.isInteger(d) && d >= 0 && d < ceiling), `attempt ${attempt}`);
    assert.ok(Math.min(...draws) < ceiling / 4 && Math.max(...draws) > (ceiling * 3) / 4, `attempt ${attempt} spreads`);
  }
});
