import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Subscriptions } from '../../server/gateway/subscriptions.ts';

test('updates reach the holders of a URI only; the upstream keeps it while anyone holds it', () => {
  const subs = new Subscriptions<string>();
  subs.add('alice', 'file:///a');
  subs.add('bob', 'file:///a');
  subs.add('bob', 'file:///b');
  subs.add('bob', 'file:///b');
  assert.deepEqual(subs.holders('file:///a'), ['alice', 'bob']);
  assert.deepEqual(subs.holders('file:///b'), ['bob']);
  assert.deepEqual(subs.holders('file:///c'), []);
  assert.equal(subs.remove('alice', 'file:///a'), true, 'bob still holds it: answered locally');
  assert.equal(subs.remove('carol', 'file:///a'), true, 'an unsubscribe of a URI others hold is answered locally too');
  assert.equal(subs.remove('bob', 'file:///a'), false, 'the last holder: unsubscribe upstream');
  assert.equal(subs.remove('bob', 'file:///a'), false, 'nobody holds it: the upstream judges');
  assert.deepEqual(subs.uris(), ['file:///b']);
});

test('a session that ends releases its URIs; those nobody else holds are returned for the upstream', () => {
  const subs = new Subscriptions<string>();
  subs.add('alice', 'file:///shared');
  subs.add('bob', 'file:///shared');
  subs.add('bob', 'file:///own');
  subs.add('bob', 'file:///also-own');
  assert.deepEqual(subs.release('bob'), ['file:///own', 'file:///also-own']);
  assert.deepEqual(subs.holders('file:///shared'), ['alice']);
  assert.deepEqual(subs.release('bob'), []);
  assert.deepEqual(subs.release('alice'), ['file:///shared']);
  assert.deepEqual(subs.uris(), []);
});
