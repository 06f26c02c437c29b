import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATENCY_RELATIVE_ERROR, OVERFLOW_KEY, RollingLatency, latencyBucket } from '../../server/metrics/rolling-latency.ts';
import { RollingRate } from '../../server/metrics/rolling-rate.ts';
import { SlotRing } from '../../server/metrics/slot-ring.ts';

const T0 = 1_700_000_000_000;

function assertWithin(actual: number | null, expected: number, relative: number): void {
  assert.ok(actual !== null, `expected ~${expected}, got null`);
  const error = Math.abs(actual - expected) / expected;
  assert.ok(error <= relative, `expected ${expected} ± ${(relative * 100).toFixed(1)} %, got ${actual}`);
}

describe('RollingLatency', () => {
  it('reports p50/p95/p99 of a 50/500/2500 ms mix within the bucket resolution', () => {
    const latency = new RollingLatency();
    // 600 × 50 ms, 300 × 500 ms, 100 × 2500 ms, spread over two minutes in a scrambled order.
    const mix = [...Array<number>(600).fill(50), ...Array<number>(300).fill(500), ...Array<number>(100).fill(2500)];
    for (let i = 0; i < mix.length; i++) latency.observe('docs/search_docs', mix[(i * 7919) % mix.length]!, T0 + i * 120);
    const now = T0 + 120_000;
    assertWithin(latency.quantile('docs/search_docs', 0.5, now), 50, LATENCY_RELATIVE_ERROR);
    assertWithin(latency.quantile('docs/search_docs', 0.8, now), 500, LATENCY_RELATIVE_ERROR);
    assertWithin(latency.quantile('docs/search_docs', 0.95, now), 2500, LATENCY_RELATIVE_ERROR);
    assertWithin(latency.quantile('docs/search_docs', 0.99, now), 2500, LATENCY_RELATIVE_ERROR);
    const snapshot = latency.snapshot(now)['docs/search_docs'];
    assert.ok(snapshot);
    assert.equal(snapshot.count, 1000);
    assertWithin(snapshot.p50, 50, LATENCY_RELATIVE_ERROR);
    assertWithin(snapshot.p95, 2500, LATENCY_RELATIVE_ERROR);
    assertWithin(snapshot.p99, 2500, LATENCY_RELATIVE_ERROR);
  });

  it('keeps the documented relative error for every value from 1 ms to 60 s', () => {
    assert.ok(LATENCY_RELATIVE_ERROR <= 0.1);
    let worst = 0;
    for (let ms = 1; ms <= 60_000; ms *= 1.013) {
      const latency = new RollingLatency();
      latency.observe('k', ms, T0);
      const reported = latency.quantile('k', 0.5, T0)!;
      worst = Math.max(worst, Math.abs(reported - ms) / ms);
    }
    assert.ok(worst <= LATENCY_RELATIVE_ERROR + 1e-9, `worst relative error ${worst}`);
  });

  it('puts exact bucket edges, sub-millisecond and huge values in sane buckets', () => {
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(-5), 0);
    assert.equal(latencyBucket(Number.NaN), 0);
    assert.equal(latencyBucket(1), 1);
    assert.equal(latencyBucket(1.2), 2);
    assert.equal(latencyBucket(1.44), 3);
    assert.equal(latencyBucket(Infinity), latencyBucket(1e12));
    assert.ok(latencyBucket(60_000) < latencyBucket(1e12));
  });

  it('forgets observations once their slot leaves the five-minute window', () => {
    const latency = new RollingLatency();
    for (let i = 0; i < 100; i++) latency.observe('slow', 3000, T0);
    assert.equal(latency.count('slow', T0 + 4 * 60_000), 100);
    // 10 slots × 30 s: at +5 min the slot of T0 has left the window.
    assert.equal(latency.count('slow', T0 + 5 * 60_000), 0);
    assert.equal(latency.quantile('slow', 0.95, T0 + 5 * 60_000), null);
    assert.deepEqual(latency.snapshot(T0 + 5 * 60_000), {});
  });

  it('mixes old and new slots only while both are inside the window', () => {
    const latency = new RollingLatency();
    for (let i = 0; i < 10; i++) latency.observe('k', 2000, T0);
    for (let i = 0; i < 10; i++) latency.observe('k', 20, T0 + 4 * 60_000);
    assert.equal(latency.count('k', T0 + 4 * 60_000), 20);
    assertWithin(latency.quantile('k', 0.95, T0 + 4 * 60_000), 2000, LATENCY_RELATIVE_ERROR);
    assertWithin(latency.quantile('k', 0.95, T0 + 5 * 60_000), 20, LATENCY_RELATIVE_ERROR);
    // A slot reused by the ring after a full turn starts from zero.
    latency.observe('k', 20, T0 + 10 * 60_000);
    assert.equal(latency.count('k', T0 + 10 * 60_000), 1);
  });

  it('folds keys beyond maxKeys into one overflow key', () => {
    const latency = new RollingLatency({ maxKeys: 3 });
    for (let i = 0; i < 10; i++) latency.observe(`tool-${i}`, 10, T0);
    const keys = Object.keys(latency.snapshot(T0)).sort();
    assert.deepEqual(keys, [OVERFLOW_KEY, 'tool-0', 'tool-1', 'tool-2'].sort());
    assert.equal(latency.count(OVERFLOW_KEY, T0), 7);
    // Once the old keys go idle, new ones get their own ring again.
    latency.observe('fresh', 10, T0 + 6 * 60_000);
    assert.deepEqual(Object.keys(latency.snapshot(T0 + 6 * 60_000)), ['fresh']);
  });
});

describe('RollingRate', () => {
  it('measures a 10 % failing stream', () => {
    const rate = new RollingRate();
    for (let i = 0; i < 500; i++) rate.record('docs', i % 10 === 0, T0 + i * 200);
    const counts = rate.counts('docs', T0 + 100_000);
    assert.equal(counts.requests, 500);
    assert.equal(counts.errors, 50);
    assert.equal(counts.ratio, 0.1);
    assert.equal(rate.rate('nobody', T0), null);
  });

  it('forgets a bad minute once it leaves the window', () => {
    const rate = new RollingRate();
    for (let i = 0; i < 60; i++) rate.record('docs', true, T0 + i * 1000);
    for (let i = 0; i < 60; i++) rate.record('docs', false, T0 + 3 * 60_000 + i * 1000);
    assert.equal(rate.rate('docs', T0 + 4 * 60_000), 0.5);
    // The failing minute (T0 … T0+60 s) is out by T0 + 6 min; only successes remain.
    assert.equal(rate.rate('docs', T0 + 6 * 60_000), 0);
    assert.equal(rate.rate('docs', T0 + 9 * 60_000), null);
    assert.deepEqual(rate.snapshot(T0 + 9 * 60_000), {});
  });

  it('adds counts in bulk', () => {
    const rate = new RollingRate();
    rate.add('embeddings', 100, 25, T0);
    rate.add('embeddings', 0, 0, T0);
    assert.deepEqual(rate.counts('embeddings', T0), { requests: 100, errors: 25, ratio: 0.25 });
  });
});

describe('SlotRing', () => {
  it('rejects nonsense options and ignores slots from the future', () => {
    assert.throws(() => new SlotRing(1, { slotMs: 0, slots: 10 }), RangeError);
    assert.throws(() => new SlotRing(1, { slotMs: 1000, slots: 0 }), RangeError);
    const ring = new SlotRing(1, { slotMs: 1000, slots: 5 });
    ring.add(0, T0 + 10_000);
    const out = new Float64Array(1);
    assert.equal(ring.sumInto(out, T0), 0);
    assert.equal(ring.sumInto(out, T0 + 10_000), 1);
  });
});
