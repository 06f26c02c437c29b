import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, GENEROUS_LIMITS, ROOT, startTestHost, textOf, waitFor, type TestHost } from '../helpers/harbor.ts';
import { harbor, harborResult } from '../helpers/harbor-cli.ts';
import { adminFetch } from '../helpers/oauth-browser.ts';

const COUNTING = join(ROOT, 'test/fixtures/servers/counting-server.ts');

interface CopyStats {
  key: string;
  pid: number;
  inFlight: number;
  maxInFlight: number;
  started: string[];
  limited: number;
}

/** A scratch folder for the fixtures' stats files and the gate files that release `hold` calls. */
function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-pool-'));
  return {
    dir,
    release: (gate = 'go') => writeFileSync(join(dir, gate), ''),
    stats: (key: string): CopyStats | null => {
      try {
        return JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as CopyStats;
      } catch {
        return null;
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function countingServer(s: ReturnType<typeof scratch>, extra: object = {}, env: Record<string, string> = {}) {
  return {
    command: process.execPath,
    args: [COUNTING],
    env: { COUNTING_HOLD_DIR: s.dir, COUNTING_STATS_DIR: s.dir, ...env },
    ...extra,
  };
}

function answer(result: unknown): { key: string; pid: number } {
  return JSON.parse(textOf(result)) as { key: string; pid: number };
}

/**
 * One finished `tool` call on each of `copies` copies first: the router serialises calls of a tool it has
 * never seen finish until it knows the tool asks its caller nothing (request-attribution.ts), and a held
 * burst would otherwise sit behind the first held call.
 */
async function prime(client: Client, s: ReturnType<typeof scratch>, copies: number, tool = 'work'): Promise<void> {
  const calls = Array.from({ length: copies }, () => client.callTool({ name: tool, arguments: { label: 'prime', hold: 'prime' } }));
  // Held until every copy holds one: the pool spreads them one per copy whatever the timing.
  await waitFor(() => {
    const starts = readdirSync(s.dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(s.dir, f), 'utf8')) as CopyStats);
    return starts.filter((st) => st.inFlight === 1).length === copies;
  }, 20_000, 'a priming call on every copy');
  s.release('prime');
  await Promise.all(calls);
}

function pool(h: TestHost, server: string) {
  return h.host.servers.get(server)!.status().pool!;
}

describe('per-server queue', () => {
  test('25 calls with maxConcurrentCalls 5: at most 5 in flight, all succeed, a second teammate is served before the first one\'s 20th', async () => {
    const s = scratch();
    const h = await startTestHost({
      mcpServers: { api: countingServer(s, { maxConcurrentCalls: 5 }, { COUNTING_KEY: 'solo' }) },
      limits: GENEROUS_LIMITS,
    });
    const bob = h.host.tokens.issue('bob').token;
    const clients: Client[] = [];
    try {
      const alice = await connectClient(h.url, 'api', h.token, { name: 'alice' });
      const bobClient = await connectClient(h.url, 'api', bob, { name: 'bob' });
      clients.push(alice, bobClient);
      await prime(alice, s, 1);
      const aliceCalls = Array.from({ length: 24 }, (_, i) => alice.callTool({ name: 'work', arguments: { label: `alice-${i + 1}`, hold: 'go' } }));
      // Alice's burst fills the five slots and the line before Bob asks.
      await waitFor(() => pool(h, 'api').queue.queued === 19, 20_000, "alice's 19 calls to wait");
      assert.equal(pool(h, 'api').queue.running, 5);
      const bobCall = bobClient.callTool({ name: 'work', arguments: { label: 'bob-1', hold: 'go' } });
      await waitFor(() => pool(h, 'api').queue.queued === 20, 10_000, "bob's call to wait");
      s.release();
      const results = await Promise.all([...aliceCalls, bobCall]);
      for (const result of results) assert.equal(result.isError, undefined, textOf(result));
      const stats = s.stats('solo')!;
      assert.equal(stats.maxInFlight, 5, 'the fixture saw more (or fewer) than 5 calls at once');
      const started = stats.started.filter((label) => label !== 'prime');
      assert.equal(started.length, 25);
      assert.ok(started.indexOf('bob-1') < started.indexOf('alice-20'), `start order: ${started.join(' ')}`);
      assert.ok(pool(h, 'api').queue.waitP95Ms !== null);
      // The queue shows in /metrics: waits and the line's length.
      const metricsText = await h.host.observability.metrics.metricsText();
      assert.match(metricsText, /harbor_queue_wait_seconds_count\{server="api"\} 26/);
    } finally {
      s.release();
      await Promise.all(clients.map((c) => c.close()));
      await h.close();
      s.cleanup();
    }
  });

  test('a cancelled queued call never reaches the server; a queued call still gets its progress', async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1 }, { COUNTING_KEY: 'solo' }) }, limits: GENEROUS_LIMITS });
    const client = await connectClient(h.url, 'api', h.token);
    try {
      await prime(client, s, 1);
      const first = client.callTool({ name: 'work', arguments: { label: 'first', hold: 'go' } });
      await waitFor(() => pool(h, 'api').queue.running === 1, 20_000, 'the first call to run');
      const abort = new AbortController();
      const cancelled = client.callTool({ name: 'work', arguments: { label: 'cancel-me' } }, undefined, { signal: abort.signal });
      const progress: string[] = [];
      const third = client.callTool({ name: 'work', arguments: { label: 'third' } }, undefined, {
        onprogress: (p) => progress.push(String(p.message)),
      });
      await waitFor(() => pool(h, 'api').queue.queued === 2, 10_000, 'two calls to wait');
      abort.abort('changed my mind');
      await assert.rejects(cancelled);
      await waitFor(() => pool(h, 'api').queue.queued === 1, 10_000, 'the cancelled call to leave the line');
      s.release();
      await first;
      assert.equal(answer(await third).key, 'solo');
      assert.deepEqual(progress, ['solo']);
      assert.deepEqual(s.stats('solo')!.started, ['prime', 'first', 'third']);
    } finally {
      s.release();
      await client.close();
      await h.close();
      s.cleanup();
    }
  });

  test('a queue over its bound answers a clear -32002 and memory stays flat', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = scratch();
    const h = await startTestHost({
      mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1, maxQueuedCalls: 5 }, { COUNTING_KEY: 'solo' }) },
      limits: GENEROUS_LIMITS,
    });
    const client = await connectClient(h.url, 'api', h.token);
    try {
      await prime(client, s, 1);
      const held = Array.from({ length: 6 }, (_, i) => client.callTool({ name: 'work', arguments: { label: `held-${i}`, hold: 'go' } }));
      await waitFor(() => pool(h, 'api').queue.queued === 5, 20_000, 'the line to fill');
      const refuseRound = async () => {
        const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => client.callTool({ name: 'work', arguments: {} })));
        for (const outcome of outcomes) {
          assert.equal(outcome.status, 'rejected');
          assert.match(String((outcome as PromiseRejectedResult).reason), /-32002.*5 calls waiting \(maxQueuedCalls 5\)/);
        }
      };
      for (let round = 0; round < 10; round++) await refuseRound(); // warm-up
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let round = 0; round < 40; round++) await refuseRound();
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      assert.equal(pool(h, 'api').queue.queued, 5, 'refused calls must not be kept');
      assert.ok(grown < 8 * 1024 * 1024, `heap grew ${Math.round(grown / 1024)} KiB over 2000 refused calls`);
      s.release();
      for (const result of await Promise.all(held)) assert.equal(result.isError, undefined);
    } finally {
      s.release();
      await client.close();
      await h.close();
      s.cleanup();
    }
  });
});

describe('upstream pool', () => {
  const keys = ['k1', 'k2', 'k3'];

  test('replicas 3 with replicaEnv: three processes, a key each, calls spread; one killed, calls continue', async () => {
    const s = scratch();
    const h = await startTestHost({
      mcpServers: { api: countingServer(s, { replicas: 3, replicaEnv: { COUNTING_KEY: keys } }) },
      limits: GENEROUS_LIMITS,
    });
    const client = await connectClient(h.url, 'api', h.token);
    try {
      await prime(client, s, 3);
      const held = Array.from({ length: 6 }, (_, i) => client.callTool({ name: 'work', arguments: { label: `spread-${i}`, hold: 'go' } }));
      await waitFor(() => keys.every((k) => s.stats(k)?.inFlight === 2), 20_000, 'two calls on each copy');
      s.release();
      const served = (await Promise.all(held)).map((r) => answer(r).key);
      assert.deepEqual([...new Set(served)].sort(), keys);
      const pids = new Set(h.host.servers.get('api')!.status().upstreams.map((u) => u.pid));
      assert.equal(pids.size, 3);

      const victim = s.stats('k2')!.pid;
      process.kill(victim, 'SIGKILL');
      await waitFor(() => h.host.servers.get('api')!.status().upstreams.every((u) => u.pid !== victim), 20_000, 'the killed copy to be noticed');
      const after = await Promise.all(Array.from({ length: 6 }, (_, i) => client.callTool({ name: 'read', arguments: { label: `after-${i}` } })));
      for (const result of after) assert.equal(result.isError, undefined, textOf(result));
      // Its own supervisor brings the killed copy back, with its own key.
      await waitFor(() => (s.stats('k2')?.pid ?? victim) !== victim || h.host.servers.get('api')!.status().upstreams.filter((u) => u.up).length === 3, 20_000, 'the copy to restart');
    } finally {
      await client.close();
      await h.close();
      s.cleanup();
    }
  });

  test('a 2026-07-28 call (no session) to a pooled server runs on a copy through the queue', async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { replicas: 2, replicaEnv: { COUNTING_KEY: ['m1', 'm2'] }, maxConcurrentCalls: 1 }) }, limits: GENEROUS_LIMITS });
    try {
      const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
      const post = async (method: string, params: Record<string, unknown>) => {
        const response = await fetch(`${h.url}/mcp/api`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${h.token}`,
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            'MCP-Protocol-Version': '2026-07-28',
            'Mcp-Method': method,
            ...(typeof params.name === 'string' ? { 'Mcp-Name': params.name } : {}),
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
        });
        const text = await response.text();
        const json = response.headers.get('content-type')?.includes('json') ? text : text.split('\n').filter((l) => l.startsWith('data: ')).at(-1)!.slice(6);
        return { status: response.status, body: JSON.parse(json) as { result?: { content?: Array<{ text: string }>; isError?: boolean }; error?: unknown } };
      };
      const discovered = await post('server/discover', {});
      assert.equal(discovered.status, 200, JSON.stringify(discovered.body));
      const called = await post('tools/call', { name: 'work', arguments: { label: 'modern' } });
      assert.equal(called.status, 200, JSON.stringify(called.body));
      assert.ok(['m1', 'm2'].includes(JSON.parse(called.body.result!.content![0]!.text).key));
      assert.equal(pool(h, 'api').queue.running, 0);
      assert.match(await h.host.observability.metrics.metricsText(), /harbor_queue_wait_seconds_count\{server="api"\} 1\n/, 'the call went through the queue');
    } finally {
      await h.close();
      s.cleanup();
    }
  });

  test('a copy answering 429 rests; a read-only call is retried on another copy, a write call is not', async () => {
    const s = scratch();
    const limitedPool = (extra: object = {}) => countingServer(s, { replicas: 3, replicaEnv: { COUNTING_KEY: keys }, ...extra }, { COUNTING_LIMITED_KEYS: 'k1' });
    const s2 = scratch();
    const h = await startTestHost({
      mcpServers: {
        reads: limitedPool(),
        writes: countingServer(s2, { replicas: 3, replicaEnv: { COUNTING_KEY: keys } }, { COUNTING_LIMITED_KEYS: 'k1' }),
      },
      limits: GENEROUS_LIMITS,
    });
    const reads = await connectClient(h.url, 'reads', h.token);
    const writes = await connectClient(h.url, 'writes', h.token);
    try {
      await reads.listTools();
      // The first call goes to copy 0 (fewest calls, first in order): k1, which always answers 429.
      const read = await reads.callTool({ name: 'read', arguments: { label: 'r' } });
      assert.equal(read.isError, undefined, textOf(read));
      assert.notEqual(answer(read).key, 'k1');
      assert.equal(s.stats('k1')!.limited, 1);
      const readPool = pool(h, 'reads');
      assert.ok(readPool.copies[0]!.restingForMs !== null && readPool.copies[0]!.rateLimited === 1);
      assert.equal(readPool.copies[1]!.restingForMs, null);

      const write = await writes.callTool({ name: 'work', arguments: { label: 'w' } });
      assert.equal(write.isError, true);
      assert.match(textOf(write), /429 rate limit, retry after 1s/);
      assert.equal(s2.stats('k1')!.limited, 1);
      assert.equal(s2.stats('k2'), null, 'a write call must not be retried on another copy');
      assert.equal(s2.stats('k3'), null);

      // The sixth metric: the share of copies not resting, per pooled server.
      h.host.observability.sample();
      const values = h.host.observability.metrics.json();
      assert.ok(values.rateLimitRemaining !== null && Math.abs(values.rateLimitRemaining - 2 / 3) < 1e-9);
      assert.match(await h.host.observability.metrics.metricsText(), /harbor_upstream_rate_limited_total\{server="writes",copy="0"\} 1/);
    } finally {
      await reads.close();
      await writes.close();
      await h.close();
      s.cleanup();
      s2.cleanup();
    }
  });

  test('replicaEnv from Harbor\'s environment: each copy gets its own comma-separated value', async () => {
    process.env.HARBOR_TEST_POOL_KEYS = 'secret-a, secret-b,secret-c';
    after(() => delete process.env.HARBOR_TEST_POOL_KEYS);
    const s = scratch();
    try {
      const h = await startTestHost({ mcpServers: { api: countingServer(s, { replicas: 3, replicaEnv: { COUNTING_KEY: { env: 'HARBOR_TEST_POOL_KEYS' } } }) }, limits: GENEROUS_LIMITS });
      const client = await connectClient(h.url, 'api', h.token);
      try {
        await prime(client, s, 3);
        const held = Array.from({ length: 3 }, () => client.callTool({ name: 'work', arguments: { hold: 'go' } }));
        await waitFor(() => ['secret-a', 'secret-b', 'secret-c'].every((k) => s.stats(k)?.inFlight === 1), 20_000, 'a call on each copy');
        s.release();
        await Promise.all(held);
      } finally {
        await client.close();
        await h.close();
      }
    } finally {
      s.cleanup();
    }
  });
});

describe('queue wait, timeouts and refusals as a teammate sees them', () => {
  test("a queued call's recorded latency counts its wait in the queue, which stays visible on its own", async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1 }, { COUNTING_KEY: 'solo' }) }, limits: GENEROUS_LIMITS });
    const client = await connectClient(h.url, 'api', h.token);
    try {
      await prime(client, s, 1);
      // The first call holds the slot until released, then runs 300 ms more: the second waits at least that long.
      const first = client.callTool({ name: 'work', arguments: { label: 'first', hold: 'go', ms: 300 } });
      await waitFor(() => pool(h, 'api').queue.running === 1, 20_000, 'the first call to run');
      const second = client.callTool({ name: 'work', arguments: { label: 'second' } });
      await waitFor(() => pool(h, 'api').queue.queued === 1, 10_000, 'the second call to wait');
      s.release();
      await Promise.all([first, second]);
      // Only the second call waited (the others started at once, a wait of 0): the histogram's sum is its wait.
      const text = await h.host.observability.metrics.metricsText();
      const waitedMs = Number(/harbor_queue_wait_seconds_sum\{server="api"\} ([\d.e-]+)/.exec(text)![1]) * 1000;
      assert.ok(waitedMs >= 300, `the second call waited ${waitedMs} ms`);
      await h.host.audit.flush();
      const rows = await h.host.audit.query({ teammate: 'alice', limit: 100 });
      const calls = rows.filter((r) => r.method === 'tools/call');
      assert.equal(calls.length, 3, 'one audit row per tool call (prime, first, second)');
      // Rows are newest first: the second call answered last.
      assert.ok(calls[0]!.durationMs >= Math.floor(waitedMs), `audited ${calls[0]!.durationMs} ms for a call that waited ${waitedMs} ms`);
      const latency = h.host.observability.metrics.latency.snapshot(Date.now())['api/work']!;
      assert.equal(latency.count, 3);
      assert.ok(latency.p95 >= Math.floor(waitedMs), `p95 ${latency.p95} ms below the wait ${waitedMs} ms`);
    } finally {
      s.release();
      await client.close();
      await h.close();
      s.cleanup();
    }
  });

  test('a call still waiting at its timeout fails with -32002 naming the queue, is audited, and never reaches the server', async () => {
    const s = scratch();
    // The only copy answers 429 naming a minute: it rests, and the retried read call waits in the line past its 3 s timeout.
    const h = await startTestHost({
      mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1, requestTimeoutSeconds: 3 }, { COUNTING_KEY: 'solo', COUNTING_LIMITED_KEYS: 'solo', COUNTING_RETRY_AFTER_SECONDS: '60' }) },
      limits: GENEROUS_LIMITS,
    });
    const client = await connectClient(h.url, 'api', h.token);
    try {
      await client.listTools();
      await assert.rejects(
        client.callTool({ name: 'read', arguments: { label: 'late' } }),
        /-32002.*server "api": the call waited [\d.]+s in its queue \(maxConcurrentCalls 1\).*past its 3s timeout \(requestTimeoutSeconds\); it was not sent to the server/,
      );
      assert.equal(pool(h, 'api').queue.queued, 0, 'the timed-out call left the line');
      assert.equal(pool(h, 'api').queue.running, 0);
      const stats = s.stats('solo')!;
      assert.equal(stats.limited, 1, 'the server saw the first attempt only');
      assert.deepEqual(stats.started, []);
      await h.host.audit.flush();
      const [row] = await h.host.audit.query({ teammate: 'alice', server: 'api', limit: 10 });
      assert.equal(row!.tool, 'read');
      assert.equal(row!.ok, false);
      assert.match(row!.error!, /waited [\d.]+s in its queue/);
      assert.ok(row!.durationMs >= 3000, `audited ${row!.durationMs} ms for a call that timed out after 3 s`);
      assert.match(await h.host.observability.metrics.metricsText(), /harbor_errors_total\{server="api",kind="jsonrpc"\} 1\n/);
    } finally {
      await client.close();
      await h.close();
      s.cleanup();
    }
  });

  test('a call refused by a full queue is audited (who, server, tool, the error) and counted as a failed call', async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1, maxQueuedCalls: 1 }, { COUNTING_KEY: 'solo' }) }, limits: GENEROUS_LIMITS });
    const bob = h.host.tokens.issue('bob').token;
    const alice = await connectClient(h.url, 'api', h.token);
    const bobClient = await connectClient(h.url, 'api', bob, { name: 'bob' });
    try {
      await prime(alice, s, 1);
      const held = [alice.callTool({ name: 'work', arguments: { label: 'running', hold: 'go' } })];
      await waitFor(() => pool(h, 'api').queue.running === 1, 20_000, 'a call to run');
      held.push(alice.callTool({ name: 'work', arguments: { label: 'waiting' } }));
      await waitFor(() => pool(h, 'api').queue.queued === 1, 10_000, 'a call to wait');
      await bobClient.listTools(); // through a copy's router: its row says how bob connected too
      await assert.rejects(bobClient.callTool({ name: 'read', arguments: { label: 'refused' } }), /-32002.*1 calls waiting \(maxQueuedCalls 1\)/);
      s.release();
      await Promise.all(held);
      await h.host.audit.flush();
      const [refused, ...others] = await h.host.audit.query({ teammate: 'bob', limit: 10 });
      assert.deepEqual(others.filter((r) => r.method === 'tools/call'), []);
      assert.deepEqual(others.find((r) => r.method === 'tools/list')?.via, { kind: 'token', token: 'bob' });
      assert.deepEqual(refused!.via, { kind: 'token', token: 'bob' });
      assert.equal(refused!.server, 'api');
      assert.equal(refused!.tool, 'read');
      assert.equal(refused!.ok, false);
      assert.match(refused!.error!, /server "api" has 1 calls waiting \(maxQueuedCalls 1\) behind 1 running/);
      assert.ok(!s.stats('solo')!.started.includes('refused'));
      assert.match(await h.host.observability.metrics.metricsText(), /harbor_errors_total\{server="api",kind="jsonrpc"\} 1\n/);
    } finally {
      s.release();
      await alice.close();
      await bobClient.close();
      await h.close();
      s.cleanup();
    }
  });
  test('a batch overflowing a full queue: every refusal counted, a bounded number of audit rows', async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { maxConcurrentCalls: 1, maxQueuedCalls: 1 }, { COUNTING_KEY: 'solo' }) }, limits: GENEROUS_LIMITS });
    const client = await connectClient(h.url, 'api', h.token);
    const headers = { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    try {
      await prime(client, s, 1);
      const init = await fetch(`${h.url}/mcp/api`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
      });
      await init.arrayBuffer();
      const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
      await (await fetch(`${h.url}/mcp/api`, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).arrayBuffer();
      // 100 calls in one POST: the first runs (held), the second waits, 98 are refused at once.
      const batch = Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'work', arguments: { label: `b${i}`, hold: 'go' } } }));
      const answered = fetch(`${h.url}/mcp/api`, { method: 'POST', headers: { ...session, Accept: 'application/json' }, body: JSON.stringify(batch) }).then((r) => r.json());
      await waitFor(() => pool(h, 'api').queue.queued === 1, 20_000, 'the line to fill');
      s.release();
      const answers = (await answered) as Array<{ id: number; error?: { code: number } }>;
      assert.equal(answers.length, 100);
      const refused = answers.filter((a) => a.error?.code === -32002).length;
      assert.equal(refused, 98);
      assert.match(await h.host.observability.metrics.metricsText(), new RegExp(`harbor_errors_total\\{server="api",kind="jsonrpc"\\} ${refused}\\n`));
      await h.host.audit.flush();
      const rows = (await h.host.audit.query({ teammate: 'alice', server: 'api', limit: 500 })).filter((r) => r.method === 'tools/call' && !r.ok);
      // The window's first refusal at once; the rest are one row with their count when the window closes (10 s).
      assert.equal(rows.length, 1, `${rows.length} audit rows for ${refused} refusals`);
      assert.match(rows[0]!.error!, /server "api" has 1 calls waiting \(maxQueuedCalls 1\)/);
    } finally {
      s.release();
      await client.close();
      await h.close();
      s.cleanup();
    }
  });
});

describe('admin restart and logs over every copy', () => {
  const keys = ['k1', 'k2', 'k3'];
  const pids = (h: TestHost) => h.host.servers.get('api')!.status().upstreams.map((u) => u.pid);
  const allUp = (h: TestHost) => h.host.servers.get('api')!.status().upstreams.every((u) => u.up && u.pid !== undefined);

  test("logs show every copy's lines labelled by copy (or one copy's), each copy in a file of its own; restart restarts every copy, or the one asked; harbor logs / restart do the same", async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { replicas: 3, replicaEnv: { COUNTING_KEY: keys } }) }, limits: GENEROUS_LIMITS });
    const admin = (method: string, path: string) => adminFetch(h.url, h.host.adminSecret, method, path);
    const logs = async (query: string) => {
      const response = await admin('GET', `/admin/logs?process=api${query}`);
      assert.equal(response.status, 200);
      return ((await response.json()) as { lines: Array<{ line: string; copy?: number }> }).lines;
    };
    const startLine = (key: string) => `counting server with key ${key} up`;
    try {
      await waitFor(() => allUp(h), 20_000, 'three copies up');
      const all = await waitFor(async () => {
        const lines = await logs('');
        return keys.every((key) => lines.some((l) => l.line === startLine(key))) ? lines : null;
      }, 20_000, "every copy's start line");
      keys.forEach((key, copy) => assert.equal(all.find((l) => l.line === startLine(key))!.copy, copy, `${key} is copy ${copy}`));
      const one = await logs('&copy=1');
      assert.ok(one.length > 0 && one.every((l) => l.copy === 1));
      assert.ok(one.some((l) => l.line === startLine('k2')));
      // Each copy appends to a file of its own: api.log, api@1.log, api@2.log.
      const logDir = join(h.home, 'logs');
      await waitFor(() => ['api.log', 'api@1.log', 'api@2.log'].every((f, k) => existsSync(join(logDir, f)) && readFileSync(join(logDir, f), 'utf8').includes(startLine(keys[k]!))), 10_000, 'a log file per copy');
      assert.ok(!readFileSync(join(logDir, 'api.log'), 'utf8').includes(startLine('k2')));

      const noCopy = await admin('GET', '/admin/logs?process=api&copy=3');
      assert.equal(noCopy.status, 404);
      assert.match(await noCopy.text(), /server \\?"api\\?" runs 3 copies \(0 to 2\); there is no copy 3/);
      assert.equal((await admin('GET', '/admin/logs?process=api&copy=one')).status, 400);
      assert.equal((await admin('POST', '/admin/servers/api/restart?copy=-1')).status, 400);
      assert.equal((await admin('POST', '/admin/servers/api/restart?copy=7')).status, 404);

      const before = pids(h);
      const restartedOne = await admin('POST', '/admin/servers/api/restart?copy=2');
      assert.equal(restartedOne.status, 200);
      await waitFor(() => allUp(h), 20_000, 'copy 2 back up');
      const afterOne = pids(h);
      assert.deepEqual(afterOne.slice(0, 2), before.slice(0, 2), 'copies 0 and 1 kept running');
      assert.notEqual(afterOne[2], before[2], 'copy 2 restarted');

      // The CLI over the same routes: one copy's lines, one copy restarted.
      const cliLogs = await harbor(h.home, 'logs', 'api', '--copy', '2');
      assert.match(cliLogs.stdout, /\[copy 2\] counting server with key k3 up/);
      assert.doesNotMatch(cliLogs.stdout, /\[copy [01]\]/);
      // A bad --lines is a usage error (exit 2), not the default 200 lines the host would answer.
      for (const bad of ['0', 'abc', '-3', '2.5', '5000']) {
        const refused = await harborResult({ ...process.env, HARBOR_HOME: h.home }, ['logs', 'api', `--lines=${bad}`]);
        assert.equal(refused.code, 2, `--lines ${bad}: ${refused.stderr}`);
        assert.match(refused.stderr, /--lines must be a whole number from 1 to 2000/);
        assert.equal(refused.stdout, '');
      }
      assert.equal((await harbor(h.home, 'logs', 'api', '--lines', '1')).stdout.trim().split('\n').length, 1);
      assert.match((await harbor(h.home, 'restart', 'api', '--copy', '0')).stdout, /^Copy 0 of api restarted \(pids \d+, \d+, \d+\)\.$/m);
      await waitFor(() => allUp(h), 20_000, 'copy 0 back up');
      const afterCli = pids(h);
      assert.notEqual(afterCli[0], afterOne[0], 'copy 0 restarted');
      assert.deepEqual(afterCli.slice(1), afterOne.slice(1));

      const restartedAll = await admin('POST', '/admin/servers/api/restart');
      assert.equal(restartedAll.status, 200);
      await waitFor(() => allUp(h), 20_000, 'every copy back up');
      const afterAll = pids(h);
      afterAll.forEach((pid, k) => assert.notEqual(pid, afterCli[k], `copy ${k} restarted`));
      // The pool serves on every copy after its rolling restart.
      const client = await connectClient(h.url, 'api', h.token);
      try {
        await prime(client, s, 3);
      } finally {
        await client.close();
      }
    } finally {
      await h.close();
      s.cleanup();
    }
  });

  test('a rolling restart drains each copy first: the calls running on every copy finish, and calls made meanwhile all succeed', async () => {
    const s = scratch();
    const h = await startTestHost({ mcpServers: { api: countingServer(s, { replicas: 2, replicaEnv: { COUNTING_KEY: ['k1', 'k2'] } }) }, limits: GENEROUS_LIMITS });
    const client = await connectClient(h.url, 'api', h.token);
    const copies = () => pool(h, 'api').copies;
    try {
      await prime(client, s, 2);
      const before = pids(h);
      // A write (never replayed by a planned restart) in flight on each copy.
      const running = [0, 1].map((i) => client.callTool({ name: 'work', arguments: { label: `running-${i}`, hold: 'slow' } }));
      await waitFor(() => s.stats('k1')?.inFlight === 1 && s.stats('k2')?.inFlight === 1, 20_000, 'a call running on each copy');
      const restarted = adminFetch(h.url, h.host.adminSecret, 'POST', '/admin/servers/api/restart');
      let done = false;
      void restarted.finally(() => (done = true));
      // Copy 0 is taken out of the pick, not killed (without the fix it goes down at once: its pid changes).
      await waitFor(() => copies()[0]!.held === true || pids(h)[0] !== before[0], 20_000, 'copy 0 to leave the pick');
      const meanwhile = await Promise.all([0, 1, 2].map((i) => client.callTool({ name: 'work', arguments: { label: `meanwhile-${i}` } })));
      for (const result of meanwhile) assert.equal(answer(result).key, 'k2', 'served by the copy still in the pick');
      assert.equal(pids(h)[0], before[0], 'copy 0 still runs its call');
      s.release('slow');
      for (const result of await Promise.all(running)) assert.equal(result.isError, undefined, 'the running calls finished');
      // Every moment of the restart, some copy serves: bounded by count as well as by the restart's end.
      let during = 0;
      while (!done && during < 500) {
        const result = await client.callTool({ name: 'work', arguments: { label: `during-${during}` } });
        assert.equal(result.isError, undefined);
        during++;
      }
      assert.equal((await restarted).status, 200);
      const after = pids(h);
      after.forEach((pid, k) => assert.notEqual(pid, before[k], `copy ${k} restarted`));
      assert.ok(copies().every((c) => c.held === false), 'both copies back in the pick');
      const spread = [0, 1].map((i) => client.callTool({ name: 'work', arguments: { label: `after-${i}`, hold: 'after' } }));
      await waitFor(() => s.stats('k1')?.inFlight === 1 && s.stats('k2')?.inFlight === 1, 20_000, 'a call on each restarted copy');
      s.release('after');
      await Promise.all(spread);
    } finally {
      s.release('slow');
      s.release('after');
      await client.close();
      await h.close();
      s.cleanup();
    }
  });
});
