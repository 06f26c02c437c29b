import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';
import { OwnRequests } from '../../server/gateway/own-requests.ts';
import { manualSchedule } from '../helpers/recording-peer.ts';

function own(refuse?: string) {
  let next = 40;
  const sent: JsonRpcMessage[] = [];
  const timers = manualSchedule();
  const requests = new OwnRequests({ nextId: () => next++, send: (m) => (sent.push(m), refuse), schedule: timers.schedule });
  return { requests, sent, timers };
}

test('a request goes out under an id of the router\'s space and resolves with its answer, error answers included', async () => {
  const { requests, sent, timers } = own();
  const ping = requests.send('ping', {});
  const list = requests.send('tools/list', {});
  assert.deepEqual(sent, [{ jsonrpc: '2.0', id: 40, method: 'ping', params: {} }, { jsonrpc: '2.0', id: 41, method: 'tools/list', params: {} }]);
  assert.deepEqual(requests.ids(), [40, 41]);
  assert.equal(requests.settle(7, { jsonrpc: '2.0', id: 7, result: {} }), false, 'not one of ours: a client call');
  assert.equal(requests.settle(41, { jsonrpc: '2.0', id: 41, error: { code: -32601, message: 'no tools' } }), true);
  assert.equal(requests.settle(40, { jsonrpc: '2.0', id: 40, result: {} }), true);
  assert.deepEqual(await ping, { jsonrpc: '2.0', id: 40, result: {} });
  assert.equal((await list).error?.message, 'no tools');
  assert.equal(timers.live().length, 0, 'answered requests leave no timer');
  assert.equal(requests.size, 0);
});

test('a refused write answers at once with the reason', async () => {
  const { requests } = own('the message is nested too deeply to forward');
  const answer = await requests.send('resources/subscribe', { uri: 'x' });
  assert.equal(answer.error?.code, -32603);
  assert.match(answer.error!.message, /nested too deeply/);
  assert.equal(requests.size, 0);
});

test('no answer in time rejects naming the method; the upstream going away answers the rest with its reason', async () => {
  const { requests, timers } = own();
  const slow = requests.send('initialize', {}, 30_000);
  const other = requests.send('tools/list', {});
  timers.fire(0);
  await assert.rejects(slow, /initialize timed out after 30s/);
  requests.failAll('exited with code 1');
  const failed = await other;
  assert.equal(failed.error?.code, -32001);
  assert.equal(failed.error?.message, 'exited with code 1');
  assert.equal(timers.live().length, 0);
  assert.equal(requests.settle(41, { jsonrpc: '2.0', id: 41, result: {} }), false, 'a late answer is no longer ours');
});
