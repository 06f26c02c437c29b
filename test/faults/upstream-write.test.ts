/**
 * Issue 12, defect 3 (gateway part): a client message that cannot be written to the upstream (params
 * nested 100 000 deep) fails its own call, never the process, including when it waited in the queue
 * of a busy `serial` server or through an upstream restart, where it is written from inside other
 * messages' handlers. And params of the wrong type where the router reads them get -32602, not a throw.
 * Below HTTP on purpose (the HTTP layer refuses deep bodies on its own): a real hosted server, a real
 * child process, the router as the host runs it; the client side is a recording ClientPeer.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { ClientPeer } from '../../server/gateway/client-peer.ts';
import { HostedServer } from '../../server/gateway/hosted-server.ts';
import type { JsonRpcMessage, JsonRpcResponse } from '../../server/gateway/jsonrpc.ts';
import { StdioUpstream } from '../../server/gateway/stdio-upstream.ts';
import { silentLogger } from '../../server/logger.ts';
import { waitFor } from '../helpers/harbor.ts';
import { HOSTILE_SERVER } from './fixtures/hostile-host.ts';

let hosted: HostedServer | null = null;
afterEach(async () => {
  await hosted?.close();
  hosted = null;
});

function deepObject(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

async function openSerialSession() {
  const upstreams: StdioUpstream[] = [];
  hosted = new HostedServer({
    name: 'hostile',
    mode: 'serial',
    maxIsolated: 1,
    requestTimeoutMs: 3_600_000, // a pass cannot come from the timeout
    createUpstream: () => {
      const upstream = new StdioUpstream({
        name: 'hostile',
        command: process.execPath,
        args: [HOSTILE_SERVER],
        env: { PATH: process.env.PATH ?? '' },
        memoryLimitBytes: 512 * 1024 * 1024,
        maxCrashes: 10,
        windowMs: 60_000,
        log: silentLogger,
      });
      upstreams.push(upstream);
      return upstream;
    },
    log: silentLogger,
  });
  const answers = new Map<string | number, JsonRpcResponse>();
  const session: ClientPeer = {
    id: 'session-1',
    teammate: 'alice',
    capabilities: {},
    deliver(message: JsonRpcMessage) {
      if ('id' in message && !('method' in message)) answers.set(message.id!, message as JsonRpcResponse);
    },
  };
  const init = await hosted.openSession(session, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {} } });
  assert.equal(init.error, undefined);
  const send = (id: number, method: string, params: Record<string, unknown>) => hosted!.message(session, { jsonrpc: '2.0', id, method, params });
  const answer = (id: number) => waitFor(() => answers.get(id), 60_000, `the answer to ${id}`);
  return { send, answer, upstream: () => upstreams[0]! };
}

const text = (response: JsonRpcResponse) => (response.result as { content: Array<{ text: string }> }).content[0]!.text;

test('a too-deep call queued behind a busy serial server fails alone; the calls around it are answered', async () => {
  const { send, answer } = await openSerialSession();
  send(1, 'tools/call', { name: 'sleep', arguments: { ms: 300 } });
  send(2, 'tools/call', { name: 'echo', arguments: deepObject(100_000) });
  send(3, 'tools/call', { name: 'echo', arguments: { text: 'after' } });
  assert.equal(text(await answer(1)), 'slept 300');
  const refused = await answer(2);
  assert.equal(refused.error?.code, -32602);
  assert.match(refused.error?.message ?? '', /nested too deeply to forward/);
  assert.equal(text(await answer(3)), 'after');
});

test('a too-deep call sent while the upstream restarts fails alone once it is back', async () => {
  const { send, answer, upstream } = await openSerialSession();
  const firstPid = upstream().pid;
  void upstream().supervisor.restart('test restart');
  send(1, 'tools/call', { name: 'echo', arguments: deepObject(100_000) });
  send(2, 'tools/call', { name: 'echo', arguments: { text: 'after the restart' } });
  assert.match((await answer(1)).error?.message ?? '', /nested too deeply to forward/);
  assert.equal(text(await answer(2)), 'after the restart');
  assert.notEqual(upstream().pid, firstPid);
});

test('params of the wrong type where the router reads them get -32602 with the field named', async () => {
  const { send, answer } = await openSerialSession();
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['resources/subscribe', { uri: { toString: 1 } }, /params\.uri must be a string/],
    ['resources/unsubscribe', { uri: ['a'] }, /params\.uri must be a string/],
    ['resources/subscribe', {}, /params\.uri must be a string/],
    ['tools/call', { name: { toString: 1 } }, /params\.name must be a string/],
    ['tools/call', { name: 'echo', arguments: 'text' }, /params\.arguments must be an object/],
    ['tools/call', { name: 'echo', arguments: { text: 'x' }, _meta: 5 }, /params\._meta must be an object/],
    ['tools/call', { name: 'echo', arguments: { text: 'x' }, _meta: { progressToken: {} } }, /progressToken must be a string or a number/],
    ['tools/list', { cursor: 5 }, /params\.cursor must be a string/],
  ];
  let id = 1;
  for (const [method, params, message] of cases) {
    send(id, method, params);
    const response = await answer(id++);
    assert.equal(response.error?.code, -32602, method);
    assert.match(response.error?.message ?? '', message);
  }
  send(id, 'tools/call', { name: 'echo', arguments: { text: 'fine' }, _meta: { progressToken: 'p1' } });
  assert.equal(text(await answer(id)), 'fine');
});
