import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { RequestStateCodec, requestDigest, type StateClaims } from '../../server/modern/request-state.ts';

function setup() {
  let now = 1_000_000;
  const codec = new RequestStateCodec({ secret: randomBytes(32), now: () => now });
  const claims: StateClaims = { call: 'c1', round: 1, teammate: 'alice', server: 'docs', request: requestDigest('tools/call', { name: 'ask' }), expiresAt: now + 300_000 };
  return { codec, claims, advance: (ms: number) => (now += ms) };
}

test('a minted state verifies for the same teammate and request, and returns its claims', () => {
  const { codec, claims } = setup();
  const verdict = codec.verify(codec.mint(claims), { teammate: 'alice', request: claims.request });
  assert.deepEqual(verdict, { ok: true, claims });
});

test('any changed byte of payload or MAC, or another Harbor secret, is refused as tampered', () => {
  const { codec, claims } = setup();
  const state = codec.mint(claims);
  const dot = state.indexOf('.');
  const forged = Buffer.from(JSON.stringify({ ...claims, teammate: 'mallory' })).toString('base64url') + state.slice(dot);
  const flipped = state.slice(0, -2) + (state.at(-2) === 'A' ? 'B' : 'A') + state.at(-1);
  const other = new RequestStateCodec({ secret: randomBytes(32) }).mint(claims);
  for (const bad of [forged, flipped, other]) {
    const verdict = codec.verify(bad, { teammate: 'mallory', request: claims.request });
    assert.equal(verdict.ok, false);
    if (!verdict.ok) assert.equal(verdict.reason, 'tampered');
  }
  for (const junk of ['', 'no-dot', 'a.b.c', 42, 'x'.repeat(5000)]) {
    const verdict = codec.verify(junk, { teammate: 'alice', request: claims.request });
    assert.equal(verdict.ok, false);
    if (!verdict.ok) assert.match(verdict.reason, /malformed|tampered/);
  }
});

test('expiry, another teammate and another request are refused with their own reason', () => {
  const { codec, claims, advance } = setup();
  const state = codec.mint(claims);
  const teammate = codec.verify(state, { teammate: 'bob', request: claims.request });
  assert.equal(!teammate.ok && teammate.reason, 'wrong-teammate');
  const request = codec.verify(state, { teammate: 'alice', request: requestDigest('tools/call', { name: 'other' }) });
  assert.equal(!request.ok && request.reason, 'wrong-request');
  advance(300_000);
  const expired = codec.verify(state, { teammate: 'alice', request: claims.request });
  assert.equal(!expired.ok && expired.reason, 'expired');
});

test('a short secret is refused at construction', () => {
  assert.throws(() => new RequestStateCodec({ secret: randomBytes(16) }), /32 bytes/);
});
