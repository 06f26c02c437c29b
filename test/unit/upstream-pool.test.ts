import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { CallEvent } from '../../server/gateway/call-event.ts';
import type { ClientPeer } from '../../server/gateway/client-peer.ts';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';
import { UpstreamPool } from '../../server/gateway/upstream-pool.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import { waitFor } from '../helpers/harbor.ts';

/** Two in-process copies of one server; each tells its copy number, can sample its caller and notify a resource update. */
function twoCopies() {
  const servers: McpServer[] = [];
  const routers = [0, 1].map((copy) => {
    const upstream = new InProcessUpstream(`copy${copy}`, () => {
      const server = new McpServer({ name: 'pooled', version: '1.0.0' }, { capabilities: { resources: { subscribe: true } } });
      server.registerResource('note', 'note://1', {}, async () => ({ contents: [{ uri: 'note://1', text: 'hello' }] }));
      server.server.setRequestHandler(SubscribeRequestSchema, async () => ({}));
      server.server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
      server.registerTool('which', { inputSchema: {}, annotations: { readOnlyHint: true } }, async () => ({ content: [{ type: 'text', text: String(copy) }] }));
      server.registerTool('ask', { inputSchema: {} }, async () => {
        const answer = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 });
        return { content: [{ type: 'text', text: `copy ${copy} heard ${(answer.content as { text: string }).text}` }] };
      });
      servers[copy] = server;
      return server;
    });
    return new UpstreamRouter(upstream, { serverName: 'pooled', serial: false, offerRoots: false, requestTimeoutMs: 30_000, log: silentLogger });
  });
  const pool = new UpstreamPool({
    serverName: 'pooled',
    copies: routers,
    maxConcurrentCalls: Infinity,
    maxPerCopy: Infinity,
    maxQueuedCalls: 10,
    rateLimitPattern: /429/i,
    retryTools: [],
    maxRetries: 2,
    requestTimeoutMs: 30_000,
    log: silentLogger,
  });
  return { pool, servers };
}

function session(name: string, answerSampling = false) {
  const received: JsonRpcMessage[] = [];
  const peer: ClientPeer = {
    id: name,
    teammate: name,
    capabilities: {},
    deliver(message) {
      received.push(message);
      // A client answering its sampling request, as the SDK would.
      if (answerSampling && 'method' in message && message.method === 'sampling/createMessage' && 'id' in message) {
        queueMicrotask(() => pool.fromClient(peer, { jsonrpc: '2.0', id: message.id, result: { role: 'assistant', model: 'm', content: { type: 'text', text: `yes from ${name}` } } }));
      }
    },
  };
  let pool: UpstreamPool;
  return { peer, received, bind: (p: UpstreamPool) => (pool = p) };
}

const initialize = { jsonrpc: '2.0' as const, id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { sampling: {} }, clientInfo: { name: 't', version: '1' } } };

test('a subscription reaches copies other than the first; the subscriber hears one answer and every copy\'s update', async () => {
  const { pool, servers } = twoCopies();
  const alice = session('alice');
  try {
    assert.equal((await pool.initialize(alice.peer, initialize)).error, undefined);
    pool.fromClient(alice.peer, { jsonrpc: '2.0', id: 'sub', method: 'resources/subscribe', params: { uri: 'note://1' } });
    await waitFor(() => alice.received.some((m) => 'id' in m && m.id === 'sub'), 5000, 'the subscribe answer');
    await servers[1]!.server.sendResourceUpdated({ uri: 'note://1' });
    await waitFor(() => alice.received.some((m) => 'method' in m && m.method === 'notifications/resources/updated'), 5000, "copy 1's update");
    const answers = alice.received.filter((m) => 'id' in m && !('method' in m));
    assert.equal(answers.length, 1, 'the echoes to other copies are not delivered');
  } finally {
    await pool.close();
  }
});

test('a server→client request from a copy goes to its caller under a pool id, and the answer goes back to that copy', async () => {
  const { pool } = twoCopies();
  const alice = session('alice', true);
  alice.bind(pool);
  try {
    await pool.initialize(alice.peer, initialize);
    // Two calls in flight: the first lands on copy 0, the second on copy 1 (fewest in flight).
    pool.fromClient(alice.peer, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ask', arguments: {} } });
    pool.fromClient(alice.peer, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } });
    const results = await waitFor(() => {
      const done = alice.received.filter((m) => 'id' in m && (m.id === 1 || m.id === 2) && 'result' in m);
      return done.length === 2 ? done : null;
    }, 10_000, 'both answers');
    const texts = results.map((m) => ((m as { result: { content: Array<{ text: string }> } }).result.content[0]!.text)).sort();
    assert.deepEqual(texts, ['copy 0 heard yes from alice', 'copy 1 heard yes from alice']);
    const asked = alice.received.filter((m) => 'method' in m && m.method === 'sampling/createMessage').map((m) => (m as { id: number }).id);
    assert.equal(new Set(asked).size, 2, 'each copy\'s request got its own pool id');
    assert.equal(pool.status().queue.running, 0);
  } finally {
    await pool.close();
  }
});

/** One in-process copy whose `slow` tool runs until aborted (or released), behind a line of one, with deadlines and clock driven by hand. */
function oneSlotPool() {
  const started: string[] = [];
  const aborted: string[] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const upstream = new InProcessUpstream('slow', () => {
    const server = new McpServer({ name: 'slow', version: '1.0.0' });
    server.registerTool('slow', { inputSchema: { label: z.string() } }, async ({ label }, extra) => {
      started.push(label);
      extra.signal.addEventListener('abort', () => aborted.push(label));
      await Promise.race([released, new Promise((resolve) => extra.signal.addEventListener('abort', resolve))]);
      return { content: [{ type: 'text', text: label }] };
    });
    return server;
  });
  const router = new UpstreamRouter(upstream, { serverName: 'slow', serial: false, offerRoots: false, requestTimeoutMs: 60_000, log: silentLogger });
  const timers: Array<{ run: () => void; ms: number; cancelled: boolean }> = [];
  const events: CallEvent[] = [];
  let clock = 1000;
  const pool = new UpstreamPool({
    serverName: 'slow',
    copies: [router],
    maxConcurrentCalls: 1,
    maxPerCopy: Infinity,
    maxQueuedCalls: 10,
    rateLimitPattern: /429/i,
    retryTools: [],
    maxRetries: 2,
    requestTimeoutMs: 5000,
    log: silentLogger,
    callClock: () => clock,
    schedule: (run, ms) => {
      const timer = { run, ms, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
    onCallDone: (event) => events.push(event),
  });
  return { pool, started, aborted, release, timers, events, advance: (ms: number) => (clock += ms) };
}

function call(id: number, label: string): JsonRpcMessage {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: { label } } };
}

function answerOf(received: JsonRpcMessage[], id: number) {
  return received.find((m) => 'id' in m && m.id === id && !('method' in m)) as { result?: { content: Array<{ text: string }> }; error?: { code: number; message: string } } | undefined;
}

test("a call still waiting at its deadline leaves the line with -32002 naming the queue, never reaches the server, and is reported timed from its arrival", async () => {
  const { pool, started, release, timers, events, advance } = oneSlotPool();
  const alice = session('alice');
  try {
    await pool.initialize(alice.peer, initialize);
    pool.fromClient(alice.peer, call(1, 'first'));
    await waitFor(() => started.includes('first'), 5000, 'the first call to run');
    pool.fromClient(alice.peer, call(2, 'second'));
    assert.equal(pool.status().queue.queued, 1);
    assert.deepEqual(timers.map((t) => t.ms), [5000, 5000], 'each call has a deadline of requestTimeoutMs');
    advance(5000);
    timers[1]!.run();
    const refused = answerOf(alice.received, 2)!;
    assert.equal(refused.error?.code, -32002);
    assert.equal(refused.error?.message, 'server "slow": the call waited 5s in its queue (maxConcurrentCalls 1) behind 1 running and 0 more waiting, past its 5s timeout (requestTimeoutSeconds); it was not sent to the server');
    assert.equal(pool.status().queue.queued, 0);
    assert.deepEqual(events.map((e) => [e.tool, e.durationMs, e.error !== undefined]), [['slow', 5000, true]]);
    release();
    await waitFor(() => answerOf(alice.received, 1), 5000, 'the first answer');
    assert.deepEqual(started, ['first'], 'the timed-out call never reached the server');
    assert.equal(timers[0]!.cancelled, true, "an answered call's deadline is cancelled");
    assert.equal(events.length, 2);
  } finally {
    release();
    await pool.close();
  }
});

test('a running call at its deadline is cancelled on its copy, fails as a timeout, and its slot goes to the next in line', async () => {
  const { pool, started, aborted, release, timers, events, advance } = oneSlotPool();
  const alice = session('alice');
  try {
    await pool.initialize(alice.peer, initialize);
    pool.fromClient(alice.peer, call(1, 'first'));
    await waitFor(() => started.includes('first'), 5000, 'the first call to run');
    advance(2000);
    pool.fromClient(alice.peer, call(2, 'second'));
    advance(3000);
    timers[0]!.run();
    const timedOut = answerOf(alice.received, 1)!;
    assert.equal(timedOut.error?.code, -32001);
    assert.match(timedOut.error!.message, /did not answer within 5s \(counted from the call's arrival, its wait in the queue included\)/);
    await waitFor(() => aborted.includes('first'), 5000, 'the server to hear the cancel');
    await waitFor(() => started.includes('second'), 5000, 'the next call to take the slot');
    release();
    await waitFor(() => answerOf(alice.received, 2), 5000, 'the second answer');
    assert.equal(answerOf(alice.received, 2)!.result?.content[0]!.text, 'second');
    assert.deepEqual(events.map((e) => [e.durationMs, e.error === undefined]), [[5000, false], [3000, true]], 'each reported once, from its arrival');
    assert.equal(alice.received.filter((m) => 'id' in m && m.id === 1).length, 1, 'the caller got one answer');
  } finally {
    release();
    await pool.close();
  }
});
