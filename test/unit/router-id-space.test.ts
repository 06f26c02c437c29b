import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdSpace } from '../../server/gateway/id-space.ts';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { manualSchedule } from '../helpers/recording-peer.ts';

function space(timeoutMs = 1000) {
  let now = 100;
  const timedOut: number[] = [];
  const finished: number[] = [];
  const timers = manualSchedule();
  const ids = new IdSpace<string>({ timeoutMs, onTimeout: (id) => timedOut.push(id), onFinished: (id) => finished.push(id), now: () => now, schedule: timers.schedule });
  return { ids, timedOut, finished, timers, advance: (ms: number) => (now += ms) };
}

const call = (id: string | number, params?: Record<string, unknown>): JsonRpcRequest => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', ...params } });

describe('router id space', () => {
  test('colliding client ids of two sessions get distinct gateway ids, each found again by its session', () => {
    const { ids } = space();
    const a = ids.open('alice', call(1), null, false);
    const b = ids.open('bob', call(1), null, false);
    assert.notEqual(a.id, b.id);
    assert.equal(ids.gatewayId('alice', 1), a.id);
    assert.equal(ids.gatewayId('bob', 1), b.id);
    assert.deepEqual(ids.callsOf('alice'), [a.id]);
    const own = ids.next();
    assert.ok(own !== a.id && own !== b.id, 'own requests draw from the same counter');
    assert.deepEqual(ids.finish(b.id)?.originalId, 1);
    assert.equal(ids.finish(b.id), undefined, 'a call leaves the books once');
    assert.equal(ids.gatewayId('bob', 1), undefined);
    assert.equal(ids.size, 1);
  });

  test('the forwarded request carries the gateway id and token; the call keeps the client\'s own', () => {
    const { ids } = space();
    const forwarded = ids.open('alice', call('c-7', { _meta: { progressToken: 'tok', other: 1 } }), 'key', true);
    assert.deepEqual(forwarded, { jsonrpc: '2.0', id: forwarded.id, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: forwarded.id, other: 1 } } });
    const entry = ids.get(forwarded.id)!;
    assert.equal(entry.originalId, 'c-7');
    assert.equal(entry.tool, 'echo');
    assert.equal(entry.cacheKey, 'key');
    assert.equal(entry.replayed, true);
    assert.deepEqual(ids.progressTarget(forwarded.id), { session: 'alice', originalId: 'c-7', progressToken: 'tok' });
    const plain = ids.open('alice', call('c-8'), null, false);
    assert.equal(ids.progressTarget(plain.id), undefined, 'no token asked, none restored');
    assert.equal(ids.progressTarget(String(forwarded.id)), undefined, 'only a gateway number routes');
  });

  test('a timeout reports the gateway id; a finished call\'s timer is cancelled; finishing is reported', () => {
    const { ids, timedOut, finished, timers } = space(5000);
    const slow = ids.open('alice', call(1), null, false);
    const quick = ids.open('alice', call(2), null, false);
    assert.deepEqual(timers.timers.map((t) => t.ms), [5000, 5000]);
    ids.finish(quick.id);
    timers.fire();
    assert.deepEqual(timedOut, [slow.id], 'the router finishes it on timeout');
    assert.deepEqual(finished, [quick.id]);
  });

  test('the oldest call and its start time, on the injected clock', () => {
    const { ids, advance } = space();
    assert.equal(ids.oldestStartedAt(), null);
    const first = ids.open('alice', call(1), null, false);
    advance(50);
    ids.open('bob', call(1), null, false);
    assert.equal(ids.oldestStartedAt(), 100);
    assert.deepEqual(ids.ids()[0], first.id);
    ids.finish(first.id);
    assert.equal(ids.oldestStartedAt(), 150);
  });

  test('the sole caller: one session with calls, several, or none', () => {
    const { ids } = space();
    assert.equal(ids.soleCaller(), undefined);
    const a1 = ids.open('alice', call('a1'), null, false);
    ids.open('alice', call('a2'), null, false);
    assert.deepEqual(ids.soleCaller(), { session: 'alice', relatedId: 'a1' });
    const b1 = ids.open('bob', call('b1'), null, false);
    assert.equal(ids.soleCaller(), null);
    ids.finish(b1.id);
    ids.finish(a1.id);
    assert.deepEqual(ids.soleCaller(), { session: 'alice', relatedId: 'a2' });
  });

  test('a client id reused while in flight: both stay booked, the newer is the one found by id', () => {
    const { ids } = space();
    const first = ids.open('alice', call(1), null, false);
    const second = ids.open('alice', call(1), null, false);
    assert.equal(ids.gatewayId('alice', 1), second.id);
    assert.equal(ids.size, 2);
    ids.finish(first.id);
    assert.equal(ids.gatewayId('alice', 1), undefined, 'the first answer unbooks the client id');
    assert.ok(ids.get(second.id), 'the second call still waits for its answer or timeout');
  });
});
