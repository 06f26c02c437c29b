import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, fixtureServer, GENEROUS_LIMITS, startTestHost } from '../helpers/harbor.ts';

// The package ships CommonJS without types.
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Array<{ name: string }>;

interface MetricsJson {
  latency: Record<string, { p50: number; p95: number; p99: number; count: number }>;
  errors: { byServer: Record<string, { requests: number; errors: number; ratio: number | null }> };
  cacheHitRatio: Record<string, number | null>;
  connections: { sessions: number; streams: number; sockets: number };
  memory: Array<{ process: string; rssBytes: number; limitBytes: number | null; ratio: number | null }>;
}

test('the six metrics, measured on a real host with known traffic', async () => {
  const h = await startTestHost({
    mcpServers: {
      slow: fixtureServer(),
      flaky: fixtureServer(),
      cached: fixtureServer({}, { cache: { tools: ['echo'], ttlSeconds: 600 } }),
    },
    limits: GENEROUS_LIMITS,
  });
  const metrics = async () => {
    h.host.observability.sample();
    await new Promise((r) => setTimeout(r, 50)); // socket count arrives asynchronously
    const res = await fetch(`${h.url}/admin/metrics`, { headers: { 'x-harbor-admin-secret': h.host.adminSecret } });
    return (await res.json()) as MetricsJson;
  };
  const clients: Client[] = [];
  try {
    // Latency: 17 × 50 ms, 2 × 500 ms, 1 × 2500 ms → p50 50, p95 500, p99 2500 (nearest rank).
    const slow = await connectClient(h.url, 'slow', h.token);
    clients.push(slow);
    const delays = [...Array(17).fill(50), 500, 500, 2500] as number[];
    // Each call's duration as the client saw it: Harbor's measure lies inside that round trip.
    const seen = await Promise.all(
      delays.map(async (ms) => {
        const started = performance.now();
        await slow.callTool({ name: 'sleep', arguments: { ms } });
        return performance.now() - started;
      }),
    );
    const sortedSeen = [...seen].sort((a, b) => a - b);
    // Error rate: 10 % of a server's calls fail.
    const flaky = await connectClient(h.url, 'flaky', h.token);
    clients.push(flaky);
    for (let i = 0; i < 30; i++) await flaky.callTool({ name: i % 10 === 0 ? 'fail' : 'echo', arguments: i % 10 === 0 ? {} : { message: 'x' } });
    // Cache: 5 distinct arguments asked 12 times each → 5 misses, 55 hits.
    const cached = await connectClient(h.url, 'cached', h.token);
    clients.push(cached);
    for (let round = 0; round < 12; round++) for (let k = 0; k < 5; k++) await cached.callTool({ name: 'echo', arguments: { message: `m${k}` } });

    const m = await metrics();
    const latency = m.latency['slow/sleep']!;
    assert.equal(latency.count, 20);
    // No bound on elapsed time (that would depend on the machine's load): each quantile lies between
    // the tool's own delay and what the client saw for the call of the same rank, within the
    // histogram's resolution (about 10 %).
    const bracketed = (actual: number, delay: number, rank: number) => actual >= delay * 0.9 && actual <= sortedSeen[rank - 1]! * 1.1;
    assert.ok(bracketed(latency.p50, 50, 10), `p50 ${latency.p50}, client saw ${sortedSeen[9]}`);
    assert.ok(bracketed(latency.p95, 500, 19), `p95 ${latency.p95}, client saw ${sortedSeen[18]}`);
    assert.ok(bracketed(latency.p99, 2500, 20), `p99 ${latency.p99}, client saw ${sortedSeen[19]}`);
    const flakyRate = m.errors.byServer.flaky!;
    assert.equal(flakyRate.requests >= 30, true);
    assert.ok(Math.abs(flakyRate.ratio! - 3 / flakyRate.requests) < 1e-9, `error ratio ${flakyRate.ratio}`);
    assert.ok(Math.abs(m.cacheHitRatio.tools! - 55 / 60) < 0.01, `hit ratio ${m.cacheHitRatio.tools}`);
    assert.ok(m.memory.some((p) => p.process === 'host' && p.rssBytes > 0 && p.limitBytes === 512 * 1024 * 1024));
    assert.ok(m.memory.some((p) => p.process === 'slow' && p.ratio !== null && p.ratio > 0));

    // Sessions up, then down.
    assert.equal(m.connections.sessions, 3);
    for (let i = 0; i < 3; i++) clients.push(await connectClient(h.url, 'slow', h.token));
    assert.equal((await metrics()).connections.sessions, 6);
    // Clients that end their session (DELETE); the others would be reaped by the idle TTL.
    for (const client of clients.splice(0, 4)) {
      await (client.transport as unknown as { terminateSession(): Promise<void> }).terminateSession();
      await client.close();
    }
    assert.equal((await metrics()).connections.sessions, 2);

    // Prometheus exposition: parses, and carries no secret.
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const families = parsePrometheusTextFormat(text);
    const names = families.map((f) => f.name);
    for (const name of ['harbor_requests_total', 'harbor_errors_total', 'harbor_process_memory_bytes', 'harbor_cache_hits_total', 'harbor_sessions', 'harbor_open_connections']) {
      assert.ok(names.includes(name), `missing ${name}`);
    }
    assert.ok(!text.includes(h.token.slice(4)) && !text.includes(h.host.adminSecret));
    // /metrics is for scrapers on this machine: a request through the tunnel is refused.
    assert.equal((await fetch(`${h.url}/metrics`, { headers: { 'Cf-Connecting-Ip': '203.0.113.9' } })).status, 403);
    // /health through a tunnel: the colour only.
    const publicHealth = (await (await fetch(`${h.url}/health`, { headers: { 'Cf-Ray': 'x' } })).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(publicHealth).sort(), ['status', 'uptimeSeconds']);
    const localHealth = (await (await fetch(`${h.url}/health`)).json()) as { status: string; reasons: string[] };
    assert.ok(['green', 'amber'].includes(localHealth.status));
    assert.ok(Array.isArray(localHealth.reasons));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await h.close();
  }
});

test('health turns red when a server crash-loops, with the reason in a sentence', async () => {
  const h = await startTestHost({ mcpServers: { broken: fixtureServer({ FIXTURE_EXIT_AT_ONCE: '1' }, { restart: { maxCrashes: 2, windowSeconds: 60 } }) } });
  try {
    const deadline = Date.now() + 20_000;
    let health = { status: '', reasons: [] as string[] };
    while (Date.now() < deadline) {
      health = (await (await fetch(`${h.url}/health`)).json()) as typeof health;
      if (health.status === 'red') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health.status, 'red');
    assert.ok(health.reasons.some((r) => r.startsWith('broken')), health.reasons.join(' | '));
  } finally {
    await h.close();
  }
});
