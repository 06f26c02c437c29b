import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ClientPeer } from '../../server/gateway/client-peer.ts';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import { InputRequiredTranslator } from '../../server/modern/input-required.ts';
import { ALL_SUPPORTED_VERSIONS, serveModern, type ModernServerPort } from '../../server/modern/modern-exchange.ts';
import { RequestStateCodec } from '../../server/modern/request-state.ts';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

function setup() {
  const upstream = new InProcessUpstream('legacy', () => {
    const server = new McpServer({ name: 'legacy', version: '3.1.0' }, { instructions: 'Use hello.' });
    server.registerTool('hello', { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'hi' }] }));
    return server;
  });
  const router = new UpstreamRouter(upstream, { serverName: 'legacy', serial: false, offerRoots: false, requestTimeoutMs: 30_000, log: silentLogger });
  const port: ModernServerPort = {
    name: 'legacy',
    router,
    isolated: false,
    async initializeResult() {
      const peer: ClientPeer = { id: 'probe', teammate: 'harbor', capabilities: {}, deliver() {} };
      const response = await router.initialize(peer, { jsonrpc: '2.0', id: 0, method: 'initialize', params: {} });
      router.detach(peer);
      return response.result as Awaited<ReturnType<ModernServerPort['initializeResult']>>;
    },
  };
  const options = { translator: new InputRequiredTranslator({ codec: new RequestStateCodec({ secret: randomBytes(32) }) }), ttlMs: 60_000 };
  const serve = (method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const request: JsonRpcRequest = { jsonrpc: '2.0', id: 7, method, params: { _meta: META, ...params } };
    const name = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
    return serveModern(options, port, 'alice', { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...name, ...headers }, request, null);
  };
  return { serve, close: () => router.close() };
}

test('server/discover answers from the upstream initialize result, with every version Harbor serves', async () => {
  const t = setup();
  try {
    const outcome = await t.serve('server/discover');
    assert.equal(outcome.kind, 'response');
    if (outcome.kind !== 'response') return;
    const result = outcome.response.result as Record<string, unknown>;
    assert.deepEqual(result.supportedVersions, ALL_SUPPORTED_VERSIONS);
    assert.equal(result.instructions, 'Use hello.');
    assert.deepEqual((result._meta as Record<string, unknown>)['io.modelcontextprotocol/serverInfo'], { name: 'legacy', version: '3.1.0' });
    assert.equal(result.resultType, 'complete');
  } finally {
    await t.close();
  }
});

test('forwarded results are decorated; removed methods are 404 -32601; headers are checked before the version', async () => {
  const t = setup();
  try {
    const list = await t.serve('tools/list');
    assert.ok(list.kind === 'response');
    assert.equal(list.status, 200);
    const result = list.response.result as Record<string, unknown>;
    assert.equal(result.resultType, 'complete');
    assert.equal(result.cacheScope, 'public');
    assert.equal(result.ttlMs, 60_000);
    const call = await t.serve('tools/call', { name: 'hello', arguments: {} });
    assert.ok(call.kind === 'response');
    assert.equal((call.response.result as Record<string, unknown>).resultType, 'complete');
    assert.equal('ttlMs' in (call.response.result as object), false);
    for (const removed of ['ping', 'initialize', 'logging/setLevel']) {
      const outcome = await t.serve(removed);
      assert.ok(outcome.kind === 'response');
      assert.equal(outcome.status, 404);
      assert.equal(outcome.response.error?.code, -32601);
      assert.equal(outcome.response.id, 7);
    }
    const mismatch = await t.serve('tools/list', {}, { 'mcp-protocol-version': '2099-01-01' });
    assert.ok(mismatch.kind === 'response');
    assert.equal(mismatch.response.error?.code, -32020);
    const noName = await t.serve('tools/call', { name: 'hello' }, { 'mcp-name': 'other' });
    assert.ok(noName.kind === 'response');
    assert.equal(noName.status, 400);
  } finally {
    await t.close();
  }
});

test('subscriptions/listen is handed back to the HTTP layer with the honoured filter; a notification is accepted', async () => {
  const t = setup();
  try {
    const outcome = await t.serve('subscriptions/listen', { notifications: { toolsListChanged: true, promptsListChanged: true } });
    assert.equal(outcome.kind, 'listen');
    if (outcome.kind === 'listen') assert.deepEqual(outcome.filter, { toolsListChanged: true });
    const bad = await t.serve('subscriptions/listen', { notifications: { toolsListChanged: 1 } });
    assert.ok(bad.kind === 'response');
    assert.equal(bad.response.error?.code, -32602);
  } finally {
    await t.close();
  }
});
