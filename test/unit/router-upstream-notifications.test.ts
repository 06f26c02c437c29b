import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSpace } from '../../server/gateway/id-space.ts';
import { RequestAttribution } from '../../server/gateway/request-attribution.ts';
import { ServerRequests } from '../../server/gateway/server-requests.ts';
import { Subscriptions } from '../../server/gateway/subscriptions.ts';
import { routeUpstreamNotification } from '../../server/gateway/upstream-notifications.ts';
import { silentLogger } from '../../server/logger.ts';
import { manualSchedule, recordingPeer, type RecordingPeer } from '../helpers/recording-peer.ts';

function setup(...names: string[]) {
  const peers = names.map((n) => recordingPeer(n));
  const sessions = new Set<RecordingPeer>(peers);
  const calls = new IdSpace<RecordingPeer>({ timeoutMs: 60_000, onTimeout: () => {}, schedule: manualSchedule().schedule });
  const subscriptions = new Subscriptions<RecordingPeer>();
  const attribution = new RequestAttribution<RecordingPeer>({ holdMs: 1000, onDecided: () => {}, schedule: manualSchedule().schedule });
  const serverRequests = new ServerRequests({ serverName: 'fx', log: silentLogger, attribution, calls, sessions, send: () => undefined });
  const route = (method: string, params?: Record<string, unknown>) => routeUpstreamNotification({ jsonrpc: '2.0', method, ...(params ? { params } : {}) }, { serverName: 'fx', log: silentLogger, sessions, calls, subscriptions, serverRequests });
  const got = (peer: RecordingPeer) => peer.received.map((r) => `${(r.message as { method: string }).method}${r.relatedId !== undefined ? `@${r.relatedId}` : ''}`);
  return { peers, calls, subscriptions, route, got };
}

test('progress goes to the call whose rewritten token it carries, with the client\'s own token', () => {
  const t = setup('alice', 'bob');
  const [alice, bob] = t.peers as [RecordingPeer, RecordingPeer];
  const forwarded = t.calls.open(alice, { jsonrpc: '2.0', id: 'a-1', method: 'tools/call', params: { name: 'slow', _meta: { progressToken: 'mine' } } }, null, false);
  t.route('notifications/progress', { progressToken: forwarded.id, progress: 1 });
  t.route('notifications/progress', { progressToken: 999, progress: 1 });
  t.route('notifications/progress', { progressToken: 'mine', progress: 1 });
  assert.deepEqual(alice.received, [{ message: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'mine', progress: 1 } }, relatedId: 'a-1' }]);
  assert.equal(bob.received.length, 0);
});

test('resources/updated reaches the subscribers of that URI; list_changed every session', () => {
  const t = setup('alice', 'bob', 'carol');
  const [alice, bob, carol] = t.peers as [RecordingPeer, RecordingPeer, RecordingPeer];
  t.subscriptions.add(bob, 'file:///x');
  t.route('notifications/resources/updated', { uri: 'file:///x' });
  t.route('notifications/resources/updated', { uri: 42 });
  t.route('notifications/tools/list_changed');
  assert.deepEqual(t.got(alice), ['notifications/tools/list_changed']);
  assert.deepEqual(t.got(bob), ['notifications/resources/updated', 'notifications/tools/list_changed']);
  assert.deepEqual(t.got(carol), ['notifications/tools/list_changed']);
});

test('logging goes only to a provable origin: the one caller, else the one session, else nobody', () => {
  const t = setup('alice', 'bob');
  const [alice, bob] = t.peers as [RecordingPeer, RecordingPeer];
  t.route('notifications/message', { level: 'info', data: 'nobody' });
  const a = t.calls.open(alice, { jsonrpc: '2.0', id: 'a-1', method: 'tools/call', params: { name: 'x' } }, null, false);
  t.route('notifications/message', { level: 'info', data: 'alice' });
  const b = t.calls.open(bob, { jsonrpc: '2.0', id: 'b-1', method: 'tools/call', params: { name: 'x' } }, null, false);
  t.route('notifications/message', { level: 'info', data: 'ambiguous' });
  assert.deepEqual(t.got(alice), ['notifications/message@a-1']);
  assert.deepEqual(t.got(bob), []);
  t.calls.finish(a.id);
  t.calls.finish(b.id);
  const lone = setup('dee');
  lone.route('notifications/message', { level: 'info', data: 'the only session' });
  assert.deepEqual(lone.got(lone.peers[0]!), ['notifications/message']);
});
