import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { authHeaders, connectClient, GENEROUS_LIMITS, ROOT, startTestHost, textOf, type TestHost } from '../helpers/harbor.ts';

// Issue 14: a 2026-07-28 client (SDK v2) through Harbor hosting a 2025-style stdio server, beside a
// 2025 client (SDK v1) on the same endpoint at the same time.
const FIXTURE = join(ROOT, 'test/fixtures/conformance-server/server.ts');

async function connectV2(h: TestHost, mode: 'auto' | { pin: string }): Promise<{ client: ClientV2; sampled: string[] }> {
  const sampled: string[] = [];
  const client = new ClientV2({ name: 'v2-client', version: '2.0.0' }, { capabilities: { sampling: {} }, versionNegotiation: { mode } });
  client.setRequestHandler('sampling/createMessage', async (request) => {
    sampled.push(JSON.stringify(request.params.messages.at(-1)?.content));
    return { model: 'm', role: 'assistant' as const, content: { type: 'text' as const, text: 'modern answer' } };
  });
  await client.connect(new TransportV2(new URL(`${h.url}/mcp/conformance`), { requestInit: { headers: authHeaders(h.token) } }));
  return { client, sampled };
}

describe('the 2026-07-28 era through Harbor', () => {
  for (const mode of ['auto', { pin: '2026-07-28' }] as const) {
    const label = mode === 'auto' ? 'auto' : 'pinned 2026-07-28';
    test(`SDK v2 (${label}): tools, resources, prompts, and sampling through input_required, beside an SDK v1 client`, async () => {
      const h = await startTestHost({ mcpServers: { conformance: { command: process.execPath, args: [FIXTURE], mode: 'shared' } }, limits: GENEROUS_LIMITS });
      const { client, sampled } = await connectV2(h, mode);
      const legacy = await connectClient(h.url, 'conformance', h.token, { name: 'v1-client', capabilities: { sampling: {} } });
      try {
        assert.equal(client.getProtocolEra(), 'modern', 'the probe found the modern era');
        assert.equal(h.host.sessions.size, 1, 'only the v1 client holds a session');

        const tools = await client.listTools();
        assert.ok(tools.tools.some((t) => t.name === 'test_simple_text'));
        const [modernText, legacyText] = await Promise.all([
          client.callTool({ name: 'test_simple_text', arguments: {} }),
          legacy.callTool({ name: 'test_simple_text', arguments: {} }),
        ]);
        assert.match(textOf(modernText), /simple text response/);
        assert.equal(textOf(modernText), textOf(legacyText));

        const resource = await client.readResource({ uri: 'test://static-text' });
        assert.match(JSON.stringify(resource.contents), /text/);
        const prompt = await client.getPrompt({ name: 'test_simple_prompt' });
        assert.ok(prompt.messages.length > 0);

        // The fixture sends sampling/createMessage (2025 style); the v2 client sees input_required and
        // answers it through its handler; the tool's answer carries the sampled text.
        const sampledCall = await client.callTool({ name: 'test_missing_capability', arguments: {} });
        assert.match(textOf(sampledCall), /modern answer/);
        assert.equal(sampled.length, 1);
        assert.equal(h.host.sessions.size, 1, 'still no session for the modern client');
      } finally {
        await client.close();
        await legacy.close();
        await h.close();
      }
    });
  }

  test('an isolated server speaks 2025 only: -32022 sends an auto client to initialize, a pinned one fails cleanly', async () => {
    const h = await startTestHost({ mcpServers: { conformance: { command: process.execPath, args: [FIXTURE], mode: 'isolated' } }, limits: GENEROUS_LIMITS });
    try {
      const { client } = await connectV2(h, 'auto');
      assert.equal(client.getProtocolEra(), 'legacy');
      assert.match(textOf(await client.callTool({ name: 'test_simple_text', arguments: {} })), /simple text response/);
      await client.close();
      await assert.rejects(connectV2(h, { pin: '2026-07-28' }));
    } finally {
      await h.close();
    }
  });
});
