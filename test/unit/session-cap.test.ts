import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionCap } from '../../server/access/session-cap.ts';

test('caps concurrent sessions per key', () => {
  const cap = new SessionCap();
  for (let i = 0; i < 10; i++) assert.deepEqual(cap.acquire('ana', `s${i}`), { ok: true });
  assert.deepEqual(cap.acquire('ana', 's10'), { ok: false, limit: 10 });
  assert.equal(cap.count('ana'), 10);
  assert.deepEqual(cap.acquire('bo', 'b0'), { ok: true });
  assert.equal(cap.release('s3'), true);
  assert.deepEqual(cap.acquire('ana', 's10'), { ok: true });
  assert.equal(cap.count('ana'), 10);
});

test('acquire is idempotent per session; release of an unknown session is harmless', () => {
  const cap = new SessionCap({ maxPerKey: 1 });
  assert.deepEqual(cap.acquire('ana', 's1'), { ok: true });
  assert.deepEqual(cap.acquire('ana', 's1'), { ok: true });
  assert.equal(cap.count('ana'), 1);
  assert.throws(() => cap.acquire('bo', 's1'));
  assert.equal(cap.release('nope'), false);
  assert.equal(cap.release('s1'), true);
  assert.equal(cap.release('s1'), false);
  assert.equal(cap.count('ana'), 0);
  assert.equal(cap.size, 0);
});

test('releaseAll frees every session of a revoked key', () => {
  const cap = new SessionCap({ maxPerKey: 3 });
  cap.acquire('ana', 'a1');
  cap.acquire('ana', 'a2');
  cap.acquire('bo', 'b1');
  assert.deepEqual(cap.sessions('ana').sort(), ['a1', 'a2']);
  assert.deepEqual(cap.releaseAll('ana').sort(), ['a1', 'a2']);
  assert.equal(cap.count('ana'), 0);
  assert.deepEqual(cap.sessions('ana'), []);
  assert.equal(cap.size, 1);
});

test('at the cap, the least recently used idle session makes room; busy and unknown ones never do', () => {
  const activity = new Map<string, { lastActivity: number; busy: boolean }>();
  const evicted: string[] = [];
  const cap = new SessionCap({ maxPerKey: 3, activity: (id) => activity.get(id), onEvict: (id) => evicted.push(id) });
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cap.acquire('ana', id), { ok: true });
  activity.set('a', { lastActivity: 10, busy: true }); // oldest, but a stream is open
  activity.set('b', { lastActivity: 30, busy: false });
  activity.set('c', { lastActivity: 20, busy: false });
  assert.deepEqual(cap.acquire('ana', 'd'), { ok: true, evicted: 'c' });
  assert.deepEqual(evicted, ['c']);
  assert.deepEqual(cap.sessions('ana').sort(), ['a', 'b', 'd']);
  // 'd' is still initializing (no activity known): not a candidate; 'b' is.
  assert.deepEqual(cap.acquire('ana', 'e'), { ok: true, evicted: 'b' });
  activity.set('e', { lastActivity: 40, busy: true });
  assert.deepEqual(cap.acquire('ana', 'f'), { ok: false, limit: 3 });
  // Another teammate's idle sessions are never taken.
  assert.deepEqual(cap.acquire('bo', 'g'), { ok: true });
  assert.equal(cap.count('ana'), 3);
  // The evicted session's own close later releases nothing twice.
  assert.equal(cap.release('c'), false);
});
