import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import { waitFor } from '../helpers/harbor.ts';
import { recordingPeer, type RecordingPeer } from '../helpers/recording-peer.ts';

// One-call peers (ClientPeer.attachedTo, a 2026-07-28 call) are attached without joining the session set.

const NAME_SCHEMA = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };

function setup() {
  const events: string[] = [];
  let server: McpServer | undefined;
  const upstream = new InProcessUpstream('fx', () => {
    server = new McpServer({ name: 'fx', version: '1.0.0' });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
    server.registerTool('greet', { inputSchema: {} }, async () => {
      const answer = await server!.server.elicitInput({ message: 'Name?', requestedSchema: NAME_SCHEMA });
      return { content: [{ type: 'text', text: `Hello, ${(answer.content as { name: string }).name}!` }] };
    });
    server.registerTool('wait_for_cancel', { inputSchema: {} }, async (_args, extra) => {
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve(), { once: true }));
      events.push('cancelled upstream');
      return { content: [] };
    });
    return server;
  });
  const router = new UpstreamRouter(upstream, { serverName: 'fx', serial: false, offerRoots: false, requestTimeoutMs: 30_000, log: silentLogger });
  const oneCall = (id: string): RecordingPeer => Object.assign(recordingPeer(id, { elicitation: {} }), { attachedTo: null });
  const call = (peer: RecordingPeer, id: number, name: string, args: Record<string, unknown> = {}) =>
    router.fromClient(peer, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
  const messages = (peer: RecordingPeer): JsonRpcMessage[] => peer.received.map((r) => r.message);
  /** A session and a one-call peer, both attached. */
  const both = () => {
    const alice = recordingPeer('alice');
    const peer = oneCall('call-1');
    router.attach(alice);
    router.attach(peer);
    return { alice, peer };
  };
  return { router, events, oneCall, both, call, messages, server: () => server! };
}

test('a one-call peer gets its answer and counts as attached until detached; a detached one is refused like a stranger', async () => {
  const t = setup();
  try {
    const { peer: call } = t.both();
    t.router.attach(call); // twice is once
    assert.equal(t.router.sessionCount, 2);
    t.call(call, 7, 'echo', { text: 'hi' });
    await waitFor(() => call.received.length === 1);
    assert.deepEqual(call.received[0]!.message, { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'hi' }] } });
    t.router.detach(call);
    t.router.detach(call);
    assert.equal(t.router.sessionCount, 1);
    assert.equal(call.attachedTo, null);
    t.call(call, 8, 'echo', { text: 'again' });
    assert.equal((call.received[1]!.message as { error: { message: string } }).error.message, 'session is not initialised');
  } finally {
    await t.router.close();
  }
});

test('list_changed reaches the sessions, not a one-call peer in flight; its own call\'s elicitation reaches it, not the only session', async () => {
  const t = setup();
  try {
    const { alice, peer: call } = t.both();
    t.call(call, 1, 'greet');
    await waitFor(() => call.received.length === 1);
    const asked = call.received[0]!.message as { id: number; method: string };
    assert.equal(asked.method, 'elicitation/create');
    t.server().registerTool('late', { inputSchema: {} }, async () => ({ content: [] }));
    await waitFor(() => alice.received.length === 1);
    assert.equal((alice.received[0]!.message as { method: string }).method, 'notifications/tools/list_changed');
    t.router.fromClient(call, { jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: { name: 'Ann' } } });
    await waitFor(() => call.received.length === 2);
    assert.deepEqual(t.messages(call)[1], { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Hello, Ann!' }] } });
    assert.equal(alice.received.length, 1, 'alice heard nothing of the call');
  } finally {
    await t.router.close();
  }
});

test('closing the router cancels a one-call peer\'s call in flight upstream and detaches it', async () => {
  const t = setup();
  const call = t.oneCall('call-1');
  t.router.attach(call);
  t.call(call, 1, 'wait_for_cancel');
  await waitFor(() => t.router.inFlightCount === 1);
  await t.router.close();
  await waitFor(() => t.events.includes('cancelled upstream'));
  assert.equal(t.router.sessionCount, 0);
  assert.equal(call.attachedTo, null);
});
