import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import { InputRequiredTranslator } from '../../server/modern/input-required.ts';
import { abortCall, callCancel, ModernCall, type CallCancel } from '../../server/modern/modern-call.ts';
import { RequestStateCodec } from '../../server/modern/request-state.ts';
import { waitFor } from '../helpers/harbor.ts';
import { manualSchedule } from '../helpers/recording-peer.ts';

const ALL_CAPS = { sampling: {}, elicitation: {}, roots: {} };
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': ALL_CAPS };
const toolCall = (id: number, name: string, extra: Record<string, unknown> = {}): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {}, _meta: META, ...extra },
});
const upstreamRequest = (id: number, method: string): JsonRpcRequest => ({ jsonrpc: '2.0', id, method, params: {} });

/** The round's end (ModernCall.whenSettled) as a promise: true when its caller went away. */
const settled = (call: ModernCall, cancel?: CallCancel): Promise<boolean> => new Promise((resolve) => call.whenSettled(cancel, resolve));

/** Resolves to whether `promise` settled by the end of this turn's microtasks. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await nextTurn();
  return done;
}

test('three server→client requests in three separate turns end in one round, after the quiet window', async () => {
  const timer = manualSchedule();
  const call = new ModernCall('alice', ALL_CAPS, toolCall(1, 'ask_three'), { coalesceMs: 50, schedule: timer.schedule });
  const round = settled(call);
  assert.equal(timer.timers.length, 0, 'no window before the first request');
  call.deliver(upstreamRequest(101, 'elicitation/create'));
  assert.equal(await settledYet(round), false, 'the first request alone does not end the round');
  call.deliver(upstreamRequest(102, 'sampling/createMessage'));
  assert.equal(await settledYet(round), false);
  call.deliver(upstreamRequest(103, 'roots/list'));
  assert.equal(await settledYet(round), false);
  // Each request restarted the window: only the last one's timer is live.
  assert.deepEqual(timer.timers.map((t) => [t.ms, t.cancelled]), [[50, true], [50, true], [50, false]]);
  timer.fire();
  assert.equal(await settledYet(round), true);
  assert.deepEqual([...call.outstanding.keys()], ['elicitation-1', 'sampling-2', 'roots-3']);
});

test("the call's result ends the round at once, and cancels a running window", async () => {
  const timer = manualSchedule();
  const call = new ModernCall('alice', ALL_CAPS, toolCall(7, 'ask'), { coalesceMs: 50, schedule: timer.schedule });
  const round = settled(call);
  call.deliver(upstreamRequest(101, 'elicitation/create'));
  call.deliver({ jsonrpc: '2.0', id: 7, result: { content: [] } });
  assert.equal(await settledYet(round), true, 'no timer fired');
  assert.equal(timer.live().length, 0);
});

test('the caller going away ends a waiting round (true), and a round of a caller already gone at once', async () => {
  const timer = manualSchedule();
  const call = new ModernCall('alice', ALL_CAPS, toolCall(1, 'ask'), { coalesceMs: 50, schedule: timer.schedule });
  const cancel = callCancel();
  const round = settled(call, cancel);
  call.deliver(upstreamRequest(101, 'elicitation/create'));
  abortCall(cancel);
  assert.equal(await round, true);
  call.closeRound();
  assert.equal(timer.live().length, 0, 'the window stopped with the round');
  assert.equal(cancel.onAbort, null, 'the round let go of the cancel');
  assert.equal(await settled(call, cancel), true);
});

test('a request arriving between rounds waits for the next one, which still coalesces', async () => {
  const timer = manualSchedule();
  const call = new ModernCall('alice', ALL_CAPS, toolCall(1, 'ask'), { coalesceMs: 50, schedule: timer.schedule });
  const first = settled(call);
  call.deliver(upstreamRequest(101, 'elicitation/create'));
  timer.fire();
  assert.equal(await settledYet(first), true);
  call.closeRound();
  call.deliver(upstreamRequest(102, 'sampling/createMessage'));
  assert.equal(timer.live().length, 0, 'no window runs between rounds');
  const second = settled(call);
  assert.equal(await settledYet(second), false, 'the next round waits its window too');
  timer.fire();
  assert.equal(await settledYet(second), true);
  assert.deepEqual([...call.outstanding.keys()], ['elicitation-1', 'sampling-2']);
});

test('through the router: a legacy tool asking three things in three turns gets one input_required round with all three', async () => {
  const server = new McpServer({ name: 'legacy', version: '1.0.0' });
  server.registerTool('ask_three', { inputSchema: {} }, async () => {
    const name = server.server.elicitInput({ message: 'Name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } });
    await nextTurn();
    const capital = server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital?' } }], maxTokens: 5 });
    await nextTurn();
    const roots = server.server.listRoots();
    const [n, c, r] = await Promise.all([name, capital, roots]);
    return { content: [{ type: 'text', text: `${(n.content as { name: string }).name}/${(c.content as { text: string }).text}/${r.roots.length}` }] };
  });
  const router = new UpstreamRouter(new InProcessUpstream('legacy', () => server), { serverName: 'legacy', serial: false, offerRoots: true, requestTimeoutMs: 30_000, log: silentLogger });
  const timer = manualSchedule();
  const translator = new InputRequiredTranslator({ codec: new RequestStateCodec({ secret: randomBytes(32) }), coalesceMs: 50, schedule: timer.schedule });
  const caller = { teammate: 'alice', server: 'legacy', envelope: { protocolVersion: '2026-07-28', clientCapabilities: ALL_CAPS, clientInfo: undefined, logLevel: undefined } };
  try {
    const answer = translator.serve(router, caller, toolCall(1, 'ask_three'), null);
    // Every request restarts the window (one timer each): all three have reached the call.
    await waitFor(() => timer.timers.length === 3, 5000, 'the three requests');
    timer.fire();
    const round = (await answer).result as { resultType: string; inputRequests: Record<string, { method: string }>; requestState: string };
    assert.equal(round.resultType, 'input_required');
    assert.deepEqual(Object.entries(round.inputRequests).map(([key, r]) => `${key} ${r.method}`), ['elicitation-1 elicitation/create', 'sampling-2 sampling/createMessage', 'roots-3 roots/list']);
    const inputResponses = {
      'elicitation-1': { action: 'accept', content: { name: 'Ada' } },
      'sampling-2': { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm' },
      'roots-3': { roots: [] },
    };
    const final = await translator.serve(router, caller, toolCall(2, 'ask_three', { inputResponses, requestState: round.requestState }), null);
    assert.equal((final.result as { content: Array<{ text: string }> }).content[0]!.text, 'Ada/Paris/0');
  } finally {
    await router.close();
  }
});
