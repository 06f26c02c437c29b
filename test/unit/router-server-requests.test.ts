import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSpace } from '../../server/gateway/id-space.ts';
import type { ClientCapabilities } from '../../server/gateway/client-peer.ts';
import type { JsonRpcMessage, JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { attributionKey, RequestAttribution } from '../../server/gateway/request-attribution.ts';
import { ServerRequests } from '../../server/gateway/server-requests.ts';
import { silentLogger } from '../../server/logger.ts';
import { manualSchedule, recordingPeer, type RecordingPeer } from '../helpers/recording-peer.ts';

const ALL = { sampling: {}, elicitation: {}, roots: {} };
const elicit = (id: number | string): JsonRpcRequest => ({ jsonrpc: '2.0', id, method: 'elicitation/create', params: { message: 'name?' } });

/** Server→client requests over a real id space and attribution, the upstream a list of what it was sent. */
function setup() {
  const upstream: JsonRpcMessage[] = [];
  const sessions = new Set<RecordingPeer>();
  const holds = manualSchedule();
  const calls = new IdSpace<RecordingPeer>({ timeoutMs: 60_000, onTimeout: () => {}, onFinished: (id) => attribution.finished(id), schedule: manualSchedule().schedule });
  const attribution: RequestAttribution<RecordingPeer> = new RequestAttribution({ holdMs: 1000, onDecided: (id, d) => requests.decided(id, d), schedule: holds.schedule });
  const requests = new ServerRequests({ serverName: 'fx', log: silentLogger, attribution, calls, sessions, send: (m) => void upstream.push(m) });
  const join = (name: string, capabilities: ClientCapabilities = ALL) => {
    const peer = recordingPeer(name, capabilities);
    sessions.add(peer);
    return peer;
  };
  const start = (peer: RecordingPeer, clientId: string) => {
    const forwarded = calls.open(peer, { jsonrpc: '2.0', id: clientId, method: 'tools/call', params: { name: 'greet' } }, null, false);
    attribution.started(forwarded.id, peer, attributionKey('tools/call', { name: 'greet' }));
    return forwarded.id;
  };
  return { upstream, sessions, calls, requests, holds, join, start };
}

test('a request goes to the one caller under a gateway id, beside its call; only that caller\'s answer goes back, under the upstream\'s id', () => {
  const t = setup();
  const alice = t.join('alice');
  const bob = t.join('bob');
  t.start(alice, 'a-1');
  t.requests.arrived(elicit('up-1'));
  assert.equal(alice.received.length, 1);
  const delivered = alice.received[0]!;
  const gatewayId = (delivered.message as JsonRpcRequest).id;
  assert.equal(typeof gatewayId, 'number');
  assert.equal(delivered.relatedId, 'a-1', 'on the stream of the call that asked');
  assert.equal(bob.received.length, 0);
  t.requests.answered(bob, { jsonrpc: '2.0', id: gatewayId, result: { action: 'decline' } });
  assert.deepEqual(t.upstream, [], 'ids are guessable: bob was not asked');
  t.requests.answered(alice, { jsonrpc: '2.0', id: gatewayId, result: { action: 'accept', content: { name: 'Dee' } } });
  assert.deepEqual(t.upstream, [{ jsonrpc: '2.0', id: 'up-1', result: { action: 'accept', content: { name: 'Dee' } } }]);
  t.requests.answered(alice, { jsonrpc: '2.0', id: gatewayId, result: {} });
  assert.equal(t.upstream.length, 1, 'answered once');
});

test('two callers in flight: held until one remains; no call and several sessions: refused with a hint', () => {
  const t = setup();
  const alice = t.join('alice');
  const bob = t.join('bob');
  t.start(alice, 'a-1');
  const bobCall = t.start(bob, 'b-1');
  t.requests.arrived(elicit('up-1'));
  assert.equal(alice.received.length + bob.received.length, 0);
  t.calls.finish(bobCall);
  assert.equal(alice.received.length, 1, 'bob\'s call finished: it was not waiting on this, so alice\'s asked');
  t.calls.finish(t.calls.gatewayId(alice, 'a-1')!);
  t.requests.arrived(elicit('up-2'));
  const refusal = t.upstream.at(-1) as { id: string; error: { code: number; message: string } };
  assert.equal(refusal.id, 'up-2');
  assert.equal(refusal.error.code, -32003);
  assert.match(refusal.error.message, /mode "serial" or "isolated" for server "fx"/);
});

test('a session lacking the capability is not asked; a ping is answered here', () => {
  const t = setup();
  const alice = t.join('alice', {});
  t.start(alice, 'a-1');
  t.requests.arrived({ jsonrpc: '2.0', id: 5, method: 'sampling/createMessage', params: {} });
  assert.deepEqual(alice.missing, ['sampling sampling/createMessage']);
  assert.deepEqual(t.upstream, [{ jsonrpc: '2.0', id: 5, error: { code: -32601, message: 'the client does not support sampling/createMessage' } }]);
  t.requests.arrived({ jsonrpc: '2.0', id: 6, method: 'ping' });
  assert.deepEqual(t.upstream.at(-1), { jsonrpc: '2.0', id: 6, result: {} });
  assert.equal(alice.received.length, 0);
});

test('withdrawn by the upstream: a held request is forgotten, a delivered one is cancelled at its session', () => {
  const t = setup();
  const alice = t.join('alice');
  const bob = t.join('bob');
  t.start(alice, 'a-1');
  const bobCall = t.start(bob, 'b-1');
  t.requests.arrived(elicit('held'));
  t.requests.withdrawn({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'held' } });
  assert.equal(t.holds.live().length, 0, 'its hold timer is cancelled');
  t.calls.finish(bobCall);
  assert.equal(alice.received.length, 0, 'nothing left to deliver');
  t.requests.arrived(elicit('asked'));
  const gatewayId = (alice.received[0]!.message as JsonRpcRequest).id;
  t.requests.withdrawn({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'asked', reason: 'gave up' } });
  assert.deepEqual(alice.received[1]!.message, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gatewayId, reason: 'gave up' } });
  t.requests.answered(alice, { jsonrpc: '2.0', id: gatewayId, result: {} });
  assert.deepEqual(t.upstream, [], 'a withdrawn request takes no answer');
});

test('a session that ends leaves the upstream an error for what it was asked; a cleared upstream takes no answers', () => {
  const t = setup();
  const alice = t.join('alice');
  t.start(alice, 'a-1');
  t.requests.arrived(elicit('up-1'));
  t.requests.sessionEnded(alice);
  assert.deepEqual(t.upstream, [{ jsonrpc: '2.0', id: 'up-1', error: { code: -32603, message: 'client session ended' } }]);
  t.requests.arrived(elicit('up-2'));
  const gatewayId = (alice.received.at(-1)!.message as JsonRpcRequest).id;
  t.requests.clear();
  t.requests.answered(alice, { jsonrpc: '2.0', id: gatewayId, result: {} });
  assert.equal(t.upstream.length, 1);
});
