import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import { answerSessionInitialize, InitHandshake } from '../../server/gateway/init-handshake.ts';
import { isResponse, type JsonRpcMessage, type JsonRpcRequest } from '../../server/gateway/jsonrpc.ts';
import { OwnRequests } from '../../server/gateway/own-requests.ts';
import { waitFor } from '../helpers/harbor.ts';

/** A real in-process MCP server behind Harbor's own requests, every message Harbor sends it recorded. */
function setup(offerRoots = false) {
  const sent: JsonRpcMessage[] = [];
  let seenCapabilities: unknown;
  const upstream = new InProcessUpstream('fx', () => {
    const server = new McpServer({ name: 'fx', version: '2.0.0' }, { instructions: 'be kind' });
    server.server.oninitialized = () => (seenCapabilities = server.server.getClientCapabilities());
    return server;
  });
  let id = 1;
  const own = new OwnRequests({ nextId: () => id++, send: (m) => (sent.push(m), upstream.send(m)) });
  upstream.onMessage = (m) => void (isResponse(m) && typeof m.id === 'number' && own.settle(m.id, m));
  let initialized = 0;
  const handshake = new InitHandshake({ upstream: { get up() { return upstream.up; }, start: () => upstream.start(), send: (m) => (sent.push(m), upstream.send(m)) }, request: (m, p) => own.send(m, p), offerRoots, onInitialized: () => initialized++ });
  const initializes = () => sent.filter((m) => (m as JsonRpcRequest).method === 'initialize').length;
  return { upstream, handshake, sent, initializes, initialized: () => initialized, capabilities: () => seenCapabilities };
}

test('concurrent callers share one handshake; its result is cached while the upstream stays up', async () => {
  const t = setup(true);
  try {
    assert.equal(t.handshake.begun, false);
    const [a, b] = await Promise.all([t.handshake.ensure(), t.handshake.ensure()]);
    assert.equal(a, b);
    assert.deepEqual(a.serverInfo, { name: 'fx', version: '2.0.0' });
    assert.equal(a.instructions, 'be kind');
    assert.equal(t.initializes(), 1);
    assert.equal(t.initialized(), 1);
    assert.ok(t.handshake.ready && t.handshake.begun);
    assert.ok(t.sent.some((m) => (m as { method?: string }).method === 'notifications/initialized'), 'the upstream is told it is initialised');
    const capabilities = (await waitFor(t.capabilities, 5000, 'notifications/initialized')) as Record<string, unknown>;
    assert.deepEqual([capabilities.sampling, capabilities.roots], [{}, { listChanged: true }]);
    assert.ok(capabilities.elicitation);
    await t.handshake.ensure();
    assert.equal(t.initializes(), 1, 'cached');
  } finally {
    await t.upstream.close();
  }
});

test('after the upstream went away, the next caller starts it and initialises it afresh', async () => {
  const t = setup();
  try {
    await t.handshake.ensure();
    await t.upstream.close();
    t.handshake.reset();
    assert.equal(t.handshake.ready, false);
    assert.equal(t.handshake.begun, false);
    await t.handshake.ensure();
    assert.ok(t.upstream.up);
    assert.equal(t.initializes(), 2);
    assert.equal(t.initialized(), 2);
    const capabilities = (await waitFor(t.capabilities, 5000, 'notifications/initialized')) as Record<string, unknown>;
    assert.ok(capabilities.sampling);
    assert.equal(capabilities.roots, undefined, 'roots offered only when one session owns the upstream');
  } finally {
    await t.upstream.close();
  }
});

test('a session\'s initialize: the upstream\'s result in a version the session speaks, or a clear error', async () => {
  const t = setup();
  try {
    const ask = (protocolVersion: unknown) => answerSessionInitialize(t.handshake, { jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion } }, 'fx');
    assert.equal(((await ask('2025-06-18')).result as { protocolVersion: string }).protocolVersion, '2025-06-18');
    assert.equal(((await ask('1999-01-01')).result as { protocolVersion: string }).protocolVersion, '2025-11-25');
    assert.equal(t.initializes(), 1);
  } finally {
    await t.upstream.close();
  }
  const refusing = new InitHandshake({
    upstream: { up: true, start: async () => {}, send: () => undefined },
    request: async () => ({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'no config file' } }),
    offerRoots: false,
    onInitialized: () => assert.fail('not initialised'),
  });
  const answer = await answerSessionInitialize(refusing, { jsonrpc: '2.0', id: 'i', method: 'initialize', params: {} }, 'fx');
  assert.deepEqual(answer, { jsonrpc: '2.0', id: 'i', error: { code: -32001, message: 'server "fx" did not initialise: no config file' } });
  assert.equal(refusing.begun, false, 'a failed handshake is not cached: the next caller tries again');
});
