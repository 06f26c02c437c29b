import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcRequest, JsonRpcResponse } from '../../server/gateway/jsonrpc.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import type { Envelope } from '../../server/modern/envelope.ts';
import { InputRequiredTranslator, type ModernCaller } from '../../server/modern/input-required.ts';
import { abortCall, callCancel } from '../../server/modern/modern-call.ts';
import { RequestStateCodec } from '../../server/modern/request-state.ts';
import { waitFor } from '../helpers/harbor.ts';

const ALL_CAPS = { sampling: {}, elicitation: {}, roots: {} };
const NAME_SCHEMA = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };

/** A 2025-style server whose tools ask their client for input, the way hosted stdio servers do. */
function legacyServer(events: string[]): McpServer {
  const server = new McpServer({ name: 'legacy', version: '1.0.0' });
  const ask = () => server.server.elicitInput({ message: 'What is your name?', requestedSchema: NAME_SCHEMA });
  const sample = () => server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 10 });
  server.registerTool('greet', { inputSchema: {} }, async () => {
    const answer = await ask().catch((error: Error) => {
      events.push(`elicitation failed: ${error.message}`);
      throw error;
    });
    return { content: [{ type: 'text', text: `Hello, ${(answer.content as { name: string }).name}!` }] };
  });
  server.registerTool('three_steps', { inputSchema: {} }, async () => {
    const name = await ask();
    const capital = await sample();
    const roots = await server.server.listRoots();
    return { content: [{ type: 'text', text: `${(name.content as { name: string }).name}/${(capital.content as { text: string }).text}/${roots.roots.length}` }] };
  });
  server.registerTool('all_at_once', { inputSchema: {} }, async () => {
    const [name, capital, roots] = await Promise.all([ask(), sample(), server.server.listRoots()]);
    return { content: [{ type: 'text', text: `${(name.content as { name: string }).name}/${(capital.content as { text: string }).text}/${roots.roots.length}` }] };
  });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
    events.push(`echo meta: ${JSON.stringify(extra._meta ?? {})}`);
    return { content: [{ type: 'text', text }] };
  });
  server.registerTool('wait_for_cancel', { inputSchema: {} }, async (_args, extra) => {
    await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve(), { once: true }));
    events.push('cancelled upstream');
    return { content: [] };
  });
  return server;
}

function setup() {
  let now = 0;
  const events: string[] = [];
  const upstream = new InProcessUpstream('legacy', () => legacyServer(events));
  const router = new UpstreamRouter(upstream, { serverName: 'legacy', serial: false, offerRoots: true, requestTimeoutMs: 30_000, log: silentLogger });
  const translator = new InputRequiredTranslator({ codec: new RequestStateCodec({ secret: randomBytes(32), now: () => now }), ttlMs: 300_000, now: () => now });
  const caller = (teammate = 'alice', capabilities: Record<string, unknown> = ALL_CAPS): ModernCaller => ({
    teammate,
    server: 'legacy',
    envelope: { protocolVersion: '2026-07-28', clientCapabilities: capabilities, clientInfo: undefined, logLevel: undefined } satisfies Envelope,
  });
  let id = 0;
  const call = (name: string, extra: Record<string, unknown> = {}, args: Record<string, unknown> = {}): JsonRpcRequest => ({
    jsonrpc: '2.0',
    id: ++id,
    method: 'tools/call',
    params: { name, arguments: args, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': ALL_CAPS }, ...extra },
  });
  return { router, translator, caller, call, events, advance: (ms: number) => (now += ms), close: () => router.close() };
}

type Interim = { resultType: string; inputRequests: Record<string, { method: string; params: Record<string, unknown> }>; requestState: string };
const interim = (response: JsonRpcResponse) => response.result as Interim;
const text = (response: JsonRpcResponse) => (response.result as { content: Array<{ text: string }> }).content[0]!.text;

test('an upstream elicitation becomes input_required; the retry answers it and returns the final result', async () => {
  const t = setup();
  try {
    const first = await t.translator.serve(t.router, t.caller(), t.call('greet'), null);
    assert.equal(first.id, 1);
    const round = interim(first);
    assert.equal(round.resultType, 'input_required');
    assert.deepEqual(Object.keys(round.inputRequests), ['elicitation-1']);
    assert.equal(round.inputRequests['elicitation-1']!.method, 'elicitation/create');
    assert.equal(round.inputRequests['elicitation-1']!.params.message, 'What is your name?');
    assert.equal(t.translator.pending.size, 1);
    const retry = t.call('greet', { inputResponses: { 'elicitation-1': { action: 'accept', content: { name: 'Alice' } }, extra_key: { ignored: true } }, requestState: round.requestState });
    const final = await t.translator.serve(t.router, t.caller(), retry, null);
    assert.equal(final.id, retry.id, 'the final answer carries the retry id');
    assert.equal(text(final), 'Hello, Alice!');
    assert.equal(t.translator.pending.size, 0);
    assert.equal(t.router.sessionCount, 0, 'the call peer is detached once done');
  } finally {
    await t.close();
  }
});

test('sequential requests come one round each; a reused state from an earlier round is refused', async () => {
  const t = setup();
  try {
    const r1 = interim(await t.translator.serve(t.router, t.caller(), t.call('three_steps'), null));
    assert.deepEqual(Object.keys(r1.inputRequests), ['elicitation-1']);
    const r2 = interim(await t.translator.serve(t.router, t.caller(), t.call('three_steps', { inputResponses: { 'elicitation-1': { action: 'accept', content: { name: 'Bo' } } }, requestState: r1.requestState }), null));
    assert.deepEqual(Object.keys(r2.inputRequests), ['sampling-2']);
    assert.notEqual(r2.requestState, r1.requestState);
    const stale = await t.translator.serve(t.router, t.caller(), t.call('three_steps', { inputResponses: {}, requestState: r1.requestState }), null);
    assert.equal(stale.error?.code, -32602);
    assert.match(stale.error!.message, /earlier round/);
    const r3 = interim(await t.translator.serve(t.router, t.caller(), t.call('three_steps', { inputResponses: { 'sampling-2': { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm' } }, requestState: r2.requestState }), null));
    assert.deepEqual(Object.keys(r3.inputRequests), ['roots-3']);
    const final = await t.translator.serve(t.router, t.caller(), t.call('three_steps', { inputResponses: { 'roots-3': { roots: [{ uri: 'file:///w' }] } }, requestState: r3.requestState }), null);
    assert.equal(text(final), 'Bo/Paris/1');
  } finally {
    await t.close();
  }
});

test('requests sent together reach the caller by the next round at the latest; a missing answer is asked again', async () => {
  const t = setup();
  try {
    const asked = new Map<string, string>();
    let round = interim(await t.translator.serve(t.router, t.caller(), t.call('all_at_once'), null));
    let rounds = 1;
    // Answer only the elicitation first: the others must be (re-)requested, never dropped.
    for (;;) {
      for (const [key, request] of Object.entries(round.inputRequests)) asked.set(key, request.method);
      const responses: Record<string, unknown> = {};
      for (const [key, request] of Object.entries(round.inputRequests)) {
        if (request.method === 'elicitation/create') responses[key] = { action: 'accept', content: { name: 'Cy' } };
        else if (rounds > 1 && request.method === 'sampling/createMessage') responses[key] = { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm' };
        else if (rounds > 1) responses[key] = { roots: [] };
      }
      const next = await t.translator.serve(t.router, t.caller(), t.call('all_at_once', { inputResponses: responses, requestState: round.requestState }), null);
      rounds++;
      if ((next.result as { resultType?: string }).resultType !== 'input_required') {
        assert.equal(text(next), 'Cy/Paris/0');
        break;
      }
      round = interim(next);
      assert.ok(rounds < 6, 'bounded number of rounds');
    }
    assert.deepEqual([...new Set(asked.values())].sort(), ['elicitation/create', 'roots/list', 'sampling/createMessage']);
  } finally {
    await t.close();
  }
});

test('a tampered, foreign or malformed state and bad inputResponses get -32602; the call stays answerable', async () => {
  const t = setup();
  try {
    const round = interim(await t.translator.serve(t.router, t.caller(), t.call('greet'), null));
    const answer = { 'elicitation-1': { action: 'accept', content: { name: 'Dee' } } };
    // A decoded MAC byte flipped and re-encoded: changing the last base64url character may only touch
    // its unused low bits (1 in 16 times the bytes stayed the same and the "tampered" state verified).
    const [body, mac] = round.requestState.split('.') as [string, string];
    const macBytes = Buffer.from(mac, 'base64url');
    macBytes[10] = macBytes[10]! ^ 0x01;
    const tampered = `${body}.${macBytes.toString('base64url')}`;
    assert.notEqual(tampered, round.requestState);
    for (const [who, params] of [
      ['alice', { inputResponses: answer, requestState: tampered }],
      ['bob', { inputResponses: answer, requestState: round.requestState }],
      ['alice', { inputResponses: 'yes', requestState: round.requestState }],
      ['alice', { inputResponses: { 'elicitation-1': 'Dee' }, requestState: round.requestState }],
    ] as const) {
      const refused = await t.translator.serve(t.router, t.caller(who), t.call('greet', params), null);
      assert.equal(refused.error?.code, -32602, JSON.stringify(params).slice(0, 80));
    }
    const onOtherTool = await t.translator.serve(t.router, t.caller(), t.call('echo', { inputResponses: answer, requestState: round.requestState }, { text: 'x' }), null);
    assert.match(onOtherTool.error!.message, /different request/);
    const final = await t.translator.serve(t.router, t.caller(), t.call('greet', { inputResponses: answer, requestState: round.requestState }), null);
    assert.equal(text(final), 'Hello, Dee!');
  } finally {
    await t.close();
  }
});

test('unanswered input expires after the window: the upstream request gets an error, a late retry a clear one', async () => {
  const t = setup();
  try {
    const round = interim(await t.translator.serve(t.router, t.caller(), t.call('greet'), null));
    t.advance(299_999);
    assert.equal(t.translator.pending.sweep(), 0);
    t.advance(1);
    assert.equal(t.translator.pending.sweep(), 1);
    await waitFor(() => t.events.find((e) => e.startsWith('elicitation failed')), 5000, 'the upstream to see the expiry');
    assert.match(t.events.find((e) => e.startsWith('elicitation failed'))!, /within 300s/);
    const late = await t.translator.serve(t.router, t.caller(), t.call('greet', { inputResponses: {}, requestState: round.requestState }), null);
    assert.equal(late.error?.code, -32602);
    assert.match(late.error!.message, /expired/);
    assert.equal(t.router.sessionCount, 0);
  } finally {
    await t.close();
  }
});

test('a caller without the elicitation capability makes the upstream request fail cleanly, as on the legacy path', async () => {
  const t = setup();
  try {
    const response = await t.translator.serve(t.router, t.caller('alice', { sampling: {} }), t.call('greet'), null);
    assert.notEqual((response.result as { resultType?: string } | undefined)?.resultType, 'input_required');
    await waitFor(() => t.events.find((e) => e.startsWith('elicitation failed')), 5000, 'the refusal upstream');
    assert.match(t.events.find((e) => e.startsWith('elicitation failed'))!, /does not support elicitation/);
    assert.equal(t.translator.pending.size, 0);
  } finally {
    await t.close();
  }
});

test('the legacy upstream never sees the envelope or MRTR fields; other _meta passes through', async () => {
  const t = setup();
  try {
    const request = t.call('echo', { inputResponses: { a: {} } }, { text: 'hi' });
    (request.params!._meta as Record<string, unknown>).traceparent = '00-abc-def-01';
    const response = await t.translator.serve(t.router, t.caller(), request, null);
    assert.equal(text(response), 'hi');
    const seen = t.events.find((e) => e.startsWith('echo meta:'))!;
    assert.doesNotMatch(seen, /io\.modelcontextprotocol/);
    assert.match(seen, /traceparent/);
  } finally {
    await t.close();
  }
});

test('closing the caller stream (abort) cancels the call upstream and answers an error', async () => {
  const t = setup();
  try {
    const cancel = callCancel();
    const pending = t.translator.serve(t.router, t.caller(), t.call('wait_for_cancel'), null, cancel);
    await waitFor(() => t.router.inFlightCount === 1, 5000, 'the call upstream');
    abortCall(cancel);
    const response = await pending;
    assert.match(response.error!.message, /cancelled/);
    await waitFor(() => t.events.includes('cancelled upstream'), 5000, 'notifications/cancelled upstream');
    assert.equal(t.router.sessionCount, 0);
  } finally {
    await t.close();
  }
});

test("revoking a teammate abandons their parked calls at once (the upstream request fails, the call is cancelled); another teammate's stays", async () => {
  const t = setup();
  try {
    const bobs = interim(await t.translator.serve(t.router, t.caller('bob'), t.call('greet'), null));
    const alices = interim(await t.translator.serve(t.router, t.caller('alice'), t.call('greet'), null));
    assert.equal(t.translator.pending.size, 2);
    assert.equal(t.translator.abandonTeammate('bob', "the teammate's access ended (token revoked)"), 1);
    assert.equal(t.translator.pending.size, 1);
    await waitFor(() => t.events.find((e) => e.startsWith('elicitation failed')), 5000, "the upstream to see bob's call end");
    assert.match(t.events.find((e) => e.startsWith('elicitation failed'))!, /access ended \(token revoked\)/);
    const late = await t.translator.serve(t.router, t.caller('bob'), t.call('greet', { inputResponses: {}, requestState: bobs.requestState }), null);
    assert.equal(late.error?.code, -32602, 'a retry of the abandoned round is refused');
    const key = Object.keys(alices.inputRequests)[0]!;
    const done = await t.translator.serve(t.router, t.caller('alice'), t.call('greet', { inputResponses: { [key]: { action: 'accept', content: { name: 'Alice' } } }, requestState: alices.requestState }), null);
    assert.equal(text(done), 'Hello, Alice!');
    assert.equal(t.translator.abandonTeammate('bob', 'again'), 0);
  } finally {
    await t.close();
  }
});
