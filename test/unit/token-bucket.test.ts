import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../server/access/token-bucket.ts';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('allows a burst, then refuses with a whole-second Retry-After', () => {
  const c = clock();
  const bucket = new TokenBucket({ now: c.now });
  for (let i = 0; i < 30; i++) assert.deepEqual(bucket.take('ana'), { ok: true }, `request ${i}`);
  const refused = bucket.take('ana');
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok && refused.retryAfterSeconds === 1);
  assert.ok(!refused.ok && Math.abs(refused.retryAfterMs - 100) < 1e-6);
});

test('refills at the configured rate and never beyond the burst', () => {
  const c = clock();
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 30, now: c.now });
  for (let i = 0; i < 30; i++) bucket.take('ana');
  c.advance(500); // five tokens
  for (let i = 0; i < 5; i++) assert.equal(bucket.take('ana').ok, true);
  assert.equal(bucket.take('ana').ok, false);
  c.advance(3_600_000);
  let allowed = 0;
  for (let i = 0; i < 100; i++) if (bucket.take('ana').ok) allowed++;
  assert.equal(allowed, 30);
});

test('keys are independent', () => {
  const c = clock();
  const bucket = new TokenBucket({ burst: 2, now: c.now });
  assert.equal(bucket.take('ana').ok, true);
  assert.equal(bucket.take('ana').ok, true);
  assert.equal(bucket.take('ana').ok, false);
  assert.equal(bucket.take('bo').ok, true);
});

test('Retry-After reflects a slow rate', () => {
  const c = clock();
  const bucket = new TokenBucket({ ratePerSecond: 0.1, burst: 1, now: c.now });
  assert.equal(bucket.take('ana').ok, true);
  c.advance(2_500);
  const refused = bucket.take('ana');
  assert.ok(!refused.ok);
  assert.equal(refused.retryAfterSeconds, 8); // 7.5 s left, rounded up
  c.advance(7_500);
  assert.equal(bucket.take('ana').ok, true);
});

test('a per-call clock value is honoured, and a clock stepping back does not drain', () => {
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, now: () => 0 });
  assert.equal(bucket.take('ana', 10_000).ok, true);
  assert.equal(bucket.take('ana', 5_000).ok, false);
  assert.equal(bucket.take('ana', 11_000).ok, true);
});

test('memory stays bounded: full buckets are forgotten', () => {
  const c = clock();
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 30, now: c.now });
  for (let i = 0; i < 10_000; i++) bucket.take(`key-${i}`);
  assert.equal(bucket.size, 10_000);
  c.advance(3_000); // every bucket has refilled
  bucket.take('active');
  assert.equal(bucket.size, 1);
  // A drained bucket is remembered until it refills, so forgetting never grants an extra burst.
  c.advance(2_900);
  for (let i = 0; i < 30; i++) bucket.take('busy');
  c.advance(100); // a sweep runs now; 'busy' holds one token
  bucket.take('other');
  assert.equal(bucket.size, 2);
  assert.equal(bucket.take('busy').ok, true);
  assert.equal(bucket.take('busy').ok, false);
});

test('forget drops a key', () => {
  const c = clock();
  const bucket = new TokenBucket({ burst: 1, now: c.now });
  bucket.take('ana');
  assert.equal(bucket.take('ana').ok, false);
  bucket.forget('ana');
  assert.equal(bucket.take('ana').ok, true);
});

test('rejects nonsense options', () => {
  assert.throws(() => new TokenBucket({ ratePerSecond: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ burst: 0 }), RangeError);
});
