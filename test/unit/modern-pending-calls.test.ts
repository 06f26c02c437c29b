import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_INPUT_TTL_MS, PendingCalls } from '../../server/modern/pending-calls.ts';

function table(options: { maxEntries?: number } = {}) {
  let now = 0;
  const expired: string[] = [];
  const calls = new PendingCalls<string>({ ttlMs: 1000, now: () => now, onExpire: (value) => expired.push(value), ...options });
  return { calls, expired, advance: (ms: number) => (now += ms) };
}

test('a parked call is readable until its expiry, then expires exactly once', () => {
  const { calls, expired, advance } = table();
  const parked = calls.add('call-a')!;
  assert.equal(parked.expiresAt, 1000);
  advance(999);
  assert.equal(calls.get(parked.id), 'call-a');
  advance(1);
  assert.equal(calls.get(parked.id), undefined);
  assert.equal(calls.sweep(), 0);
  assert.deepEqual(expired, ['call-a']);
  assert.equal(calls.size, 0);
});

test('sweep expires every overdue call; renew gives a call a fresh window; delete never expires', () => {
  const { calls, expired, advance } = table();
  const a = calls.add('a')!;
  const b = calls.add('b')!;
  const c = calls.add('c')!;
  advance(600);
  assert.equal(calls.renew(b.id), 1600);
  assert.equal(calls.delete(c.id), true);
  advance(400);
  assert.equal(calls.sweep(), 1);
  assert.deepEqual(expired, ['a']);
  assert.equal(calls.get(a.id), undefined);
  assert.equal(calls.get(b.id), 'b');
  advance(600);
  calls.sweep();
  assert.deepEqual(expired, ['a', 'b']);
  assert.equal(calls.renew(b.id), undefined);
});

test('the table is bounded: a call beyond the cap is refused until one leaves', () => {
  const { calls, advance } = table({ maxEntries: 2 });
  assert.ok(calls.add('a'));
  assert.ok(calls.add('b'));
  assert.equal(calls.add('c'), null);
  advance(1000); // both expire; add() sweeps first
  assert.ok(calls.add('c'));
});

test('the default window is five minutes', () => {
  assert.equal(DEFAULT_INPUT_TTL_MS, 300_000);
  assert.equal(new PendingCalls().ttlMs, 300_000);
});
