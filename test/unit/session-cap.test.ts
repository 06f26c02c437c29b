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
