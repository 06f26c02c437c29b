import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, everythingConfig, startTestHost, textOf, waitFor, type TestHost } from '../helpers/harbor.ts';

// server-everything hosted over stdio, called through Harbor with both HTTP transports of the SDK.
for (const legacy of [false, true]) {
  describe(`server-everything through Harbor (${legacy ? 'legacy HTTP+SSE' : 'Streamable HTTP'})`, () => {
    let h: TestHost;
    let client: Client;
    const samplingPrompts: string[] = [];

    before(async () => {
      h = await startTestHost(everythingConfig());
      client = await connectClient(h.url, 'everything', h.token, { legacy, capabilities: { sampling: {} } });
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        const first = request.params.messages[0]?.content;
        samplingPrompts.push(first && 'text' in first ? String(first.text) : '');
        return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled by the calling session' } };
      });
    });
    after(async () => {
      await client?.close();
      await h?.close();
    });

    test('lists and calls the basic tools', async () => {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const expected of ['echo', 'get-sum', 'get-tiny-image', 'trigger-long-running-operation', 'trigger-sampling-request']) {
        assert.ok(names.includes(expected), `missing tool ${expected} in ${names.join(', ')}`);
      }
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'hello harbor' } })), 'Echo: hello harbor');
      assert.match(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })), /42/);
      const image = await client.callTool({ name: 'get-tiny-image', arguments: {} });
      assert.ok((image.content as Array<{ type: string }>).some((c) => c.type === 'image'));
      const structured = await client.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } });
      assert.ok(structured.structuredContent);
    });

    test('long-running operation streams progress notifications to the caller', async () => {
      // What Harbor delivered, read on the client's transport before the SDK handles it. The SDK runs
      // a notification a microtask after a response, so on legacy SSE the notes the EventSource
      // dispatches in the same tick as the result never reach onprogress: one when the last note and
      // the result share a chunk, more when the process was busy for a step's 250 ms (a loaded
      // machine). Counting at onprogress made the assertion depend on that.
      const wire: number[] = [];
      const transport = client.transport!;
      const deliver = transport.onmessage!;
      transport.onmessage = (message, extra) => {
        if ('method' in message && message.method === 'notifications/progress') wire.push(Number((message.params as { progress: unknown }).progress));
        deliver.call(transport, message, extra);
      };
      const progress: number[] = [];
      try {
        const result = await client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
          undefined,
          { onprogress: (p) => progress.push(p.progress) },
        );
        assert.match(textOf(result), /completed/i);
      } finally {
        transport.onmessage = deliver;
      }
      assert.deepEqual(wire, [1, 2, 3, 4], 'every progress note reached the session');
      // Streamable HTTP hands over one event per read, so the SDK keeps them all; legacy keeps a prefix.
      assert.deepEqual(progress, legacy ? wire.slice(0, progress.length) : wire);
    });

    test('resources and prompts pass through', async () => {
      const { resources } = await client.listResources();
      assert.ok(resources.length > 0);
      const read = await client.readResource({ uri: resources[0]!.uri });
      assert.ok(read.contents.length > 0);
      const { resourceTemplates } = await client.listResourceTemplates();
      assert.ok(resourceTemplates.length > 0);
      const { prompts } = await client.listPrompts();
      assert.ok(prompts.some((p) => p.name === 'simple-prompt'));
      const prompt = await client.getPrompt({ name: 'simple-prompt' });
      assert.ok(prompt.messages.length > 0);
    });

    test('sampling request from the upstream reaches the calling session', async () => {
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'what is harbor', maxTokens: 10 } });
      assert.match(textOf(result), /sampled by the calling session/);
      assert.ok(samplingPrompts.some((p) => p.includes('what is harbor')));
    });

    test('logging notifications reach the only session', async () => {
      const messages: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        messages.push(n.params);
      });
      await client.setLoggingLevel('debug');
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      await waitFor(() => messages.length > 0, 20_000, 'a logging notification');
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    });
  });
}
