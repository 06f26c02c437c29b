import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeyPool } from '../../server/upstream-api/api-key-pool.ts';
import { backoffDelay } from '../../server/supervision/backoff.ts';
import { parseResetDuration, retryAfterMs } from '../../server/upstream-api/retry-timing.ts';

test('Retry-After is read as ms, seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '350', 'retry-after': '1' }), now), 350);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '2' }), now), 2_000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5_000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now), 0);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(retryAfterMs(new Headers(), now), undefined);
});

test('rate-limit reset durations in the OpenAI format', () => {
  assert.equal(parseResetDuration('1s'), 1_000);
  assert.equal(parseResetDuration('6m0s'), 360_000);
  assert.equal(parseResetDuration('20ms'), 20);
  assert.equal(parseResetDuration('1h2m3.5s'), 3_723_500);
  assert.equal(parseResetDuration('0.5'), 500);
  assert.equal(parseResetDuration('later'), undefined);
  assert.equal(parseResetDuration('5s and more'), undefined);
  assert.equal(parseResetDuration(null), undefined);
});

test('backoff grows exponentially under a cap, with full jitter', () => {
  // The embeddings client's policy: doubling from its base, full jitter; attempt 0 is the first retry.
  const policy = { initialMs: 100, factor: 2, maxMs: 10_000, jitter: 'full' } as const;
  assert.equal(backoffDelay(0, policy, () => 0.999), 99);
  assert.equal(backoffDelay(3, policy, () => 0.5), 400);
  assert.equal(backoffDelay(29, policy, () => 0.5), 5_000);
  assert.equal(backoffDelay(2, policy, () => 0), 0);
});

test('key pool: round-robin, resting keys skipped, remaining budget reported', () => {
  let now = 1_000;
  const pool = new ApiKeyPool(['a', 'b', 'c'], () => now);
  const take = () => {
    const lease = pool.acquire();
    return 'key' in lease ? lease.key : `wait ${lease.waitMs}`;
  };
  assert.deepEqual([take(), take(), take(), take()], ['a', 'b', 'c', 'a']);
  pool.rest('b', now + 500);
  assert.deepEqual([take(), take(), take()], ['c', 'a', 'c']);
  pool.rest('a', now + 300);
  pool.rest('c', now + 800);
  assert.equal(take(), 'wait 300');
  now += 300;
  assert.equal(take(), 'a');
  assert.equal(pool.idOf('c'), 'key#3');

  assert.equal(pool.remainingFraction(), null);
  const headers = (remaining: number, reset: string) =>
    new Headers({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-remaining-requests': String(remaining), 'x-ratelimit-reset-requests': reset });
  now += 1_000; // every rest over
  pool.observe('a', headers(5, '1s'));
  pool.observe('b', headers(0, '1s'));
  assert.equal(pool.remainingFraction(), 5 / 20);
  // A key with nothing left waits for its reset without a 429.
  assert.deepEqual([take(), take()], ['c', 'a']);
  assert.equal(take(), 'c');
  now += 1_000;
  assert.equal(pool.remainingFraction(), 1, 'budgets refilled at their reset');
});
