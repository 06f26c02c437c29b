import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { InProcessUpstream } from '../../server/gateway/in-process-upstream.ts';
import type { JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';
import { UpstreamRouter } from '../../server/gateway/upstream-router.ts';
import { silentLogger } from '../../server/logger.ts';
import { honouredFilter, ListenBridge, parseFilter } from '../../server/modern/listen-bridge.ts';
import { waitFor } from '../helpers/harbor.ts';

const SUB = 'io.modelcontextprotocol/subscriptionId';

function setup() {
  const subscribed = new Set<string>();
  let server!: McpServer;
  const upstream = new InProcessUpstream('legacy', () => {
    server = new McpServer({ name: 'legacy', version: '1.0.0' }, { capabilities: { resources: { subscribe: true, listChanged: true }, tools: { listChanged: true } } });
    server.registerResource('watched', 'test://watched', {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'x' }] }));
    server.registerTool('noop', { inputSchema: {} }, async () => ({ content: [] }));
    server.server.setRequestHandler(SubscribeRequestSchema, async (r) => (subscribed.add(r.params.uri), {}));
    server.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => (subscribed.delete(r.params.uri), {}));
    return server;
  });
  const router = new UpstreamRouter(upstream, { serverName: 'legacy', serial: false, offerRoots: false, requestTimeoutMs: 30_000, log: silentLogger });
  const listen = (filter: Record<string, unknown>) => {
    const written: JsonRpcMessage[] = [];
    const parsed = parseFilter({ notifications: filter });
    assert.ok(parsed.ok);
    const bridge = new ListenBridge({ teammate: 'alice', subscriptionId: 'listen-1', filter: parsed.filter, router, write: (m) => written.push(m) });
    bridge.open();
    return { bridge, written };
  };
  return { router, listen, subscribed, server: () => server, close: () => router.close() };
}

test('the acknowledgement comes first; opted-in list_changed and resources/updated follow, tagged', async () => {
  const t = setup();
  try {
    const { written, bridge } = t.listen({ toolsListChanged: true, resourceSubscriptions: ['test://watched'] });
    assert.deepEqual(written[0], { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { [SUB]: 'listen-1' }, notifications: { toolsListChanged: true, resourceSubscriptions: ['test://watched'] } } });
    await waitFor(() => t.subscribed.has('test://watched'), 5000, 'the upstream subscription');
    await t.server().server.sendResourceUpdated({ uri: 'test://watched' });
    await t.server().server.sendResourceUpdated({ uri: 'test://other' });
    t.server().sendToolListChanged();
    t.server().sendResourceListChanged(); // not opted in
    await waitFor(() => written.length >= 3, 5000, 'two notifications');
    const methods = written.slice(1).map((m) => (m as { method: string }).method);
    assert.deepEqual(methods, ['notifications/resources/updated', 'notifications/tools/list_changed']);
    for (const m of written.slice(1)) assert.equal(((m as unknown as { params: { _meta: Record<string, unknown> } }).params._meta)[SUB], 'listen-1');
    bridge.close(true);
    assert.deepEqual(written.at(-1), { jsonrpc: '2.0', id: 'listen-1', result: { resultType: 'complete', _meta: { [SUB]: 'listen-1' } } });
    await waitFor(() => !t.subscribed.has('test://watched'), 5000, 'the upstream unsubscribe');
    assert.equal(t.router.sessionCount, 0);
  } finally {
    await t.close();
  }
});

test('an abrupt close sends nothing more; the filter is cut down to what the upstream honours', async () => {
  const t = setup();
  try {
    const { written, bridge } = t.listen({ resourcesListChanged: true, resourceSubscriptions: ['test://watched'] });
    await waitFor(() => t.subscribed.has('test://watched'), 5000, 'the upstream subscription');
    t.server().sendResourceListChanged();
    await waitFor(() => written.length === 2, 5000, 'the opted-in notification');
    bridge.close(false);
    t.server().sendResourceListChanged();
    bridge.deliver({ jsonrpc: '2.0', method: 'notifications/resources/list_changed' });
    await waitFor(() => !t.subscribed.has('test://watched'), 5000, 'the upstream unsubscribe');
    assert.equal(written.length, 2, 'no closing response and nothing after an abrupt close');
    assert.equal(t.router.sessionCount, 0);
    assert.deepEqual(honouredFilter({ toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['a'] }, { tools: { listChanged: true }, resources: {} }), { toolsListChanged: true });
    assert.equal(parseFilter({ notifications: { toolsListChanged: 'yes' } }).ok, false);
    assert.equal(parseFilter({ notifications: { resourceSubscriptions: [1] } }).ok, false);
  } finally {
    await t.close();
  }
});
