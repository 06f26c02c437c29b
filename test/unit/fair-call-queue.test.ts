import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FairCallQueue } from '../../server/gateway/fair-call-queue.ts';

function queue(maxConcurrent: number, maxQueued: number, canStart: () => boolean = () => true) {
  let clock = 0;
  const started: string[] = [];
  const q = new FairCallQueue<string>({ maxConcurrent, maxQueued, canStart, now: () => clock, start: (item) => started.push(item) });
  return { q, started, tick: (ms: number) => (clock += ms) };
}

describe('FairCallQueue', () => {
  test('starts at once while slots are free, then lines calls up', () => {
    const { q, started } = queue(2, 10);
    assert.equal(q.submit('a', 'a1'), true);
    assert.equal(q.submit('a', 'a2'), true);
    assert.equal(q.submit('a', 'a3'), true);
    assert.deepEqual(started, ['a1', 'a2']);
    assert.equal(q.queued, 1);
    assert.equal(q.running, 2);
    q.release();
    assert.deepEqual(started, ['a1', 'a2', 'a3']);
    assert.equal(q.queued, 0);
  });

  test('round-robin by key: one key\'s burst does not starve another', () => {
    const { q, started } = queue(1, 100);
    for (let i = 1; i <= 5; i++) q.submit('alice', `a${i}`);
    q.submit('bob', 'b1');
    q.submit('carol', 'c1');
    for (let i = 0; i < 6; i++) q.release();
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'c1', 'a3', 'a4', 'a5']);
  });

  test('refuses beyond maxQueued and keeps nothing of the refused call', () => {
    const { q } = queue(1, 2);
    q.submit('a', 'running');
    assert.equal(q.submit('a', 'w1'), true);
    assert.equal(q.submit('b', 'w2'), true);
    assert.equal(q.submit('c', 'refused'), false);
    assert.equal(q.queued, 2);
    assert.equal(q.stats().waitingKeys, 2);
  });

  test('remove takes a waiting call out of its line; it never starts', () => {
    const { q, started } = queue(1, 10);
    q.submit('a', 'a1');
    q.submit('a', 'a2');
    q.submit('a', 'a3');
    assert.deepEqual(q.remove('a', (item) => item === 'a2'), ['a2']);
    assert.deepEqual(q.remove('nobody', () => true), []);
    q.release();
    q.release();
    assert.deepEqual(started, ['a1', 'a3']);
    assert.equal(q.stats().waitingKeys, 0);
  });

  test('requeue puts a retry at the front of its line, past maxQueued', () => {
    const { q, started } = queue(1, 1);
    q.submit('a', 'a1');
    q.submit('a', 'a2');
    q.requeue('a', 'a1-retry');
    assert.equal(q.queued, 2);
    q.release();
    assert.deepEqual(started, ['a1', 'a1-retry']);
  });

  test('nothing starts while canStart says no; pump resumes', () => {
    let open = false;
    const { q, started } = queue(5, 10, () => open);
    q.submit('a', 'a1');
    assert.deepEqual(started, []);
    open = true;
    q.pump();
    assert.deepEqual(started, ['a1']);
  });

  test('reports the p95 of recent waits from the injected clock', () => {
    const { q, tick } = queue(1, 100);
    assert.equal(q.stats().waitP95Ms, null);
    q.submit('a', 'first'); // waited 0
    for (let i = 0; i < 19; i++) q.submit('a', `w${i}`);
    for (let i = 0; i < 19; i++) {
      tick(100);
      q.release();
    }
    // Waits: 0, then 100, 200 … 1900 ms: the 95th percentile of 20 samples is the 19th, 1800 ms.
    assert.equal(q.stats().waitP95Ms, 1800);
    assert.equal(q.stats().maxConcurrent, 1);
    assert.equal(new FairCallQueue({ maxConcurrent: Infinity, maxQueued: 1, start: () => {} }).stats().maxConcurrent, null);
  });
});
