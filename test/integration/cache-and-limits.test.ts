import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startEmbeddingsApi } from '../fixtures/embeddings-api.ts';
import { connectClient, fixtureServer, GENEROUS_LIMITS, startTestHost, textOf } from '../helpers/harbor.ts';

test('a cacheable tool: the second identical call never reaches the upstream; isError results are not cached', async () => {
  const h = await startTestHost({
    mcpServers: { fx: fixtureServer({}, { cache: { tools: ['echo', 'fail'], ttlSeconds: 60 } }) },
    limits: GENEROUS_LIMITS,
  });
  const client = await connectClient(h.url, 'fx', h.token);
  try {
    const calls = async () => Number(textOf(await client.callTool({ name: 'calls', arguments: {} })));
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'same' } })), 'same');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'same' } })), 'same');
    assert.equal(await calls(), 1, 'the second echo came from the cache');
    // Argument order does not matter to the key; different arguments do.
    await client.callTool({ name: 'echo', arguments: { message: 'other' } });
    assert.equal(await calls(), 2);
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    assert.equal(failed.isError, true);
    await client.callTool({ name: 'fail', arguments: {} });
    assert.equal(await calls(), 4, 'isError results are never cached');
    // A second teammate's session gets the cached result for the same server and tool only.
    const bob = h.host.tokens.issue('bob').token;
    const other = await connectClient(h.url, 'fx', bob);
    assert.equal(textOf(await other.callTool({ name: 'echo', arguments: { message: 'same' } })), 'same');
    assert.equal(await calls(), 4);
    await other.close();
    const { caches } = (await (await fetch(`${h.url}/admin/status`, { headers: { 'x-harbor-admin-secret': h.host.adminSecret } })).json()) as {
      caches: Array<{ namespace: string; hits: { memory: number; disk: number }; misses: number }>;
    };
    const tools = caches.find((c) => c.namespace === 'tools')!;
    assert.equal(tools.hits.memory + tools.hits.disk, 2);
  } finally {
    await client.close();
    await h.close();
  }
});

test('"readOnly" caches only tools that declare readOnlyHint', async () => {
  const h = await startTestHost({ mcpServers: { fx: fixtureServer({}, { cache: { tools: 'readOnly', ttlSeconds: 60 } }) }, limits: GENEROUS_LIMITS });
  const client = await connectClient(h.url, 'fx', h.token);
  try {
    await client.listTools();
    const pid1 = textOf(await client.callTool({ name: 'pid', arguments: {} }));
    const pid2 = textOf(await client.callTool({ name: 'pid', arguments: {} }));
    assert.equal(pid1, pid2);
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    assert.equal(textOf(await client.callTool({ name: 'calls', arguments: {} })), '2', 'echo is not read-only: not cached');
  } finally {
    await client.close();
    await h.close();
  }
});

test('docs search with embeddings: 25 sessions x 20 searches, no failure, at most 20 % of the uncached API calls, never over the concurrency', async () => {
  const api = await startEmbeddingsApi({ keys: ['key-a', 'key-b'], ratePerSecondPerKey: 20, latencyMs: 20 });
  const h = await startTestHost({
    docs: { folder: 'docs', embeddings: { baseUrl: api.url, model: 'test-embed', apiKeys: ['key-a', 'key-b'], concurrency: 3 } },
    limits: GENEROUS_LIMITS,
  });
  const folder = join(h.home, 'docs');
  for (let i = 0; i < 30; i++) writeFileSync(join(folder, `doc${i}.md`), `# Doc ${i}\n\nTopic ${i % 7} about deploys, queues and embeddings number ${i}.\n`);
  await h.host.docs!.scan();
  const queries = Array.from({ length: 20 }, (_, i) => `topic ${i % 7} deploys ${i}`);
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 25; i++) clients.push(await connectClient(h.url, 'docs', h.token));
    const failures: string[] = [];
    const modes = new Set<string>();
    await Promise.all(
      clients.map(async (client) => {
        for (const query of queries) {
          const result = await client.callTool({ name: 'search_docs', arguments: { query } }).catch((e: Error) => {
            failures.push(e.message);
            return null;
          });
          if (!result) continue;
          if (result.isError) failures.push(textOf(result));
          modes.add((result.structuredContent as { mode: string }).mode);
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.deepEqual([...modes], ['blended']);
    const stats = api.stats();
    const uncached = 25 * 20; // one embeddings request per search without a cache
    assert.ok(stats.calls <= 0.2 * uncached, `${stats.calls} API calls of ${uncached}`);
    assert.ok(stats.maxConcurrent <= 3, `peak concurrency ${stats.maxConcurrent}`);
    assert.ok(Object.values(stats.callsByKey).filter((n) => n > 0).length === 2, 'both keys used');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await h.close();
    await api.close();
  }
});

test('docs search stays lexical, with a note, when the embeddings API is down', async () => {
  const api = await startEmbeddingsApi({ keys: ['k'], ratePerSecondPerKey: 100 });
  const url = api.url;
  await api.close();
  const h = await startTestHost({ docs: { folder: 'docs', embeddings: { baseUrl: url, model: 'm', apiKeys: ['k'] } } });
  const client = await connectClient(h.url, 'docs', h.token);
  try {
    const result = await client.callTool({ name: 'search_docs', arguments: { query: 'welcome' } });
    const structured = result.structuredContent as { mode: string; note?: string; results: Array<{ path: string }> };
    assert.equal(structured.mode, 'lexical');
    assert.match(structured.note ?? '', /unavailable/);
    assert.equal(structured.results[0]?.path, 'welcome.md');
  } finally {
    await client.close();
    await h.close();
  }
});

test('a deleted cache file: the host carries on and answers from the upstream', async () => {
  const h = await startTestHost({ mcpServers: { fx: fixtureServer({}, { cache: { tools: ['echo'], ttlSeconds: 60 } }) }, limits: GENEROUS_LIMITS });
  const client = await connectClient(h.url, 'fx', h.token);
  try {
    await client.callTool({ name: 'echo', arguments: { message: 'a' } });
    rmSync(join(h.home, 'cache.db'), { force: true });
    for (let i = 0; i < 5; i++) assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: `b${i}` } })), `b${i}`);
  } finally {
    await client.close();
    await h.close();
  }
});
