import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from '../../server/cache/bounded-cache.ts';
import { CachedCalls } from '../../server/gateway/cached-calls.ts';
import type { CallEvent } from '../../server/gateway/call-event.ts';
import type { JsonRpcId, JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { ToolResultCache } from '../../server/gateway/tool-cache.ts';
import { recordingPeer } from '../helpers/recording-peer.ts';

const call = (name: string, args: Record<string, unknown> = {}, id: JsonRpcId = 1): JsonRpcRequest => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** The router's view of a real tool-result cache (memory only), on a hand-moved clock. */
function setup(tools: 'readOnly' | string[]) {
  const store = new BoundedCache<unknown>({ namespace: 'tools', maxMemoryBytes: 1_000_000 });
  const events: CallEvent[] = [];
  let now = 0;
  const cached = new CachedCalls({ cache: new ToolResultCache(store, 'fx', { tools, ttlMs: 60_000 }), onCallDone: (e) => events.push(e), now: () => (now += 5) });
  return { cached, events, close: () => store.close() };
}

test('only calls of cacheable tools have a key; the same arguments in another order share it', async () => {
  const t = setup(['weather']);
  try {
    assert.equal(t.cached.keyOf(call('send_mail')), null);
    assert.equal(t.cached.keyOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), null);
    const key = t.cached.keyOf(call('weather', { city: 'Oslo', units: 'C' }));
    assert.ok(key);
    assert.equal(t.cached.keyOf(call('weather', { units: 'C', city: 'Oslo' })), key);
    assert.notEqual(t.cached.keyOf(call('weather', { city: 'Bergen', units: 'C' })), key);
    assert.equal(new CachedCalls({ cache: undefined }).keyOf(call('weather')), null, 'no cache on this server');
  } finally {
    await t.close();
  }
});

test('a miss is forwarded; the kept answer serves the next caller, who hears it as cached; errors are not kept', async () => {
  const t = setup(['weather']);
  const alice = recordingPeer('alice');
  try {
    const request = call('weather', { city: 'Oslo' }, 'a-1');
    const key = t.cached.keyOf(request)!;
    assert.equal(await t.cached.answer(alice, request, key, () => true), false, 'a miss: forward it');
    t.cached.keep(key, { content: [{ type: 'text', text: 'rain' }] });
    assert.equal(await t.cached.answer(alice, { ...request, id: 'a-2' }, key, () => true), true);
    assert.deepEqual(alice.received, [{ message: { jsonrpc: '2.0', id: 'a-2', result: { content: [{ type: 'text', text: 'rain' }] } }, relatedId: 'a-2' }]);
    assert.deepEqual(t.events.map((e) => [e.tool, e.cached, e.durationMs]), [['weather', true, 5]]);
    const failing = call('weather', { city: 'Atlantis' });
    const failingKey = t.cached.keyOf(failing)!;
    t.cached.keep(failingKey, { isError: true, content: [] });
    assert.equal(await t.cached.answer(alice, failing, failingKey, () => true), false);
  } finally {
    await t.close();
  }
});

test('a session gone while the cache was read hears nothing; "readOnly" follows the tools/list annotations', async () => {
  const t = setup('readOnly');
  const alice = recordingPeer('alice');
  try {
    assert.equal(t.cached.keyOf(call('lookup')), null, 'not known read-only yet');
    t.cached.learn({ tools: [{ name: 'lookup', annotations: { readOnlyHint: true } }, { name: 'write' }] });
    const request = call('lookup');
    const key = t.cached.keyOf(request)!;
    assert.equal(t.cached.keyOf(call('write')), null);
    t.cached.keep(key, { content: [] });
    assert.equal(await t.cached.answer(alice, request, key, () => false), true, 'done with: nothing to forward');
    assert.deepEqual(alice.received, []);
    assert.deepEqual(t.events, []);
  } finally {
    await t.close();
  }
});
