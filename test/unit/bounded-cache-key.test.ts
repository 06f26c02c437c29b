import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, toolCacheKey } from '../../server/cache/cache-key.ts';

test('canonical JSON sorts keys at every depth and matches JSON.stringify otherwise', () => {
  const a = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, u: undefined };
  const b = { a: { c: 'x', d: [3, { y: null, z: true }] }, b: 1 };
  assert.equal(canonicalJson(a), '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.deepEqual(JSON.parse(canonicalJson(a)), JSON.parse(JSON.stringify(a)));
  assert.equal(canonicalJson([undefined, 'é\n']), '[null,"é\\n"]');
  assert.equal(canonicalJson({ when: new Date(0) }), '{"when":"1970-01-01T00:00:00.000Z"}');
});

test('canonical JSON refuses values that would collapse into another key', () => {
  assert.throws(() => canonicalJson({ n: Number.NaN }), TypeError);
  assert.throws(() => canonicalJson({ n: 1n }), TypeError);
  const loop: Record<string, unknown> = {};
  loop.self = loop;
  assert.throws(() => canonicalJson(loop), /circular/);
  // A shared (non-circular) reference is fine.
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
});

test('tool cache keys depend on server, tool and arguments, not on key order', () => {
  const key = toolCacheKey('github', 'search', { q: 'x', page: 1 });
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(key, toolCacheKey('github', 'search', { page: 1, q: 'x' }));
  assert.notEqual(key, toolCacheKey('github', 'search', { page: 2, q: 'x' }));
  assert.notEqual(key, toolCacheKey('gitlab', 'search', { q: 'x', page: 1 }));
  assert.notEqual(key, toolCacheKey('github', 'list', { q: 'x', page: 1 }));
  assert.equal(toolCacheKey('s', 't', undefined), toolCacheKey('s', 't', {}));
});
