import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { METRIC } from '../../server/metrics/metric-values.ts';
import { HarborMetrics, latencyKey } from '../../server/metrics/registry.ts';

interface ParsedSample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: ParsedSample[];
}
// The package ships no types; its default export is the parser function.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

const T0 = 1_700_000_000_000;

interface JsonSeries {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function histogramSeries(metrics: HarborMetrics): Promise<JsonSeries[]> {
  const all = (await metrics.registry.getMetricsAsJSON()) as unknown as { name: string; values: JsonSeries[] }[];
  return all.find((m) => m.name === 'harbor_request_duration_seconds')?.values ?? [];
}
const MB = 1024 * 1024;

function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `metric family ${name} missing`);
  return found;
}

function loadedMetrics(): HarborMetrics {
  const metrics = new HarborMetrics();
  for (let i = 0; i < 40; i++) {
    metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 'search_docs', durationMs: 50 + i, now: T0 + i });
  }
  metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 'read_doc', durationMs: 3000, error: 'jsonrpc', now: T0 });
  metrics.observeRequest({ server: 'github', method: 'initialize', durationMs: 800, error: 'http_5xx', now: T0 });
  metrics.observeRequest({ server: '', method: 'GET /health', durationMs: 1, now: T0 });
  metrics.setProcessMemory('host', 200 * MB, 512 * MB);
  metrics.setProcessMemory('docs', 410 * MB, 512 * MB);
  metrics.setProcessMemory('cloudflared', 30 * MB, null);
  metrics.setCacheStats('tools', 80, 20, T0);
  metrics.setCacheStats('embeddings', 5, 5, T0);
  metrics.setConnections({ sockets: 4, streams: 2, sessions: { docs: 3, github: 1 } }, T0);
  metrics.setRateLimit('embeddings', 30, 1000, null, T0);
  return metrics;
}

describe('HarborMetrics Prometheus exposition', () => {
  it('parses as valid Prometheus text with every Harbor metric', async () => {
    const metrics = loadedMetrics();
    const text = await metrics.metricsText();
    const families = parsePrometheus(text);

    const duration = family(families, 'harbor_request_duration_seconds');
    assert.equal(duration.type, 'HISTOGRAM');
    // The parser folds a labelled histogram's series into one bucket map, so read the per-series
    // values from prom-client's structured output instead.
    assert.ok(duration.metrics[0]?.buckets?.['+Inf']);
    const search = (await histogramSeries(metrics)).find((s) => s.labels.tool === 'search_docs' && s.metricName?.endsWith('_count'));
    assert.ok(search);
    assert.deepEqual(search.labels, { server: 'docs', method: 'tools/call', tool: 'search_docs' });
    assert.equal(search.value, 40);

    const requests = family(families, 'harbor_requests_total');
    assert.equal(requests.type, 'COUNTER');
    assert.equal(requests.metrics.find((m) => m.labels?.server === 'docs')?.value, '41');

    const errors = family(families, 'harbor_errors_total');
    assert.deepEqual(
      errors.metrics.map((m) => [m.labels?.server, m.labels?.kind, m.value]).sort(),
      [
        ['docs', 'jsonrpc', '1'],
        ['github', 'http_5xx', '1'],
      ],
    );

    const memory = family(families, 'harbor_process_memory_bytes');
    assert.equal(memory.type, 'GAUGE');
    assert.equal(memory.metrics.find((m) => m.labels?.process === 'docs')?.value, String(410 * MB));
    const limits = family(families, 'harbor_process_memory_limit_bytes');
    assert.deepEqual(limits.metrics.map((m) => m.labels?.process).sort(), ['docs', 'host']);

    assert.equal(family(families, 'harbor_cache_hits_total').metrics.find((m) => m.labels?.cache === 'tools')?.value, '80');
    assert.equal(family(families, 'harbor_cache_misses_total').metrics.find((m) => m.labels?.cache === 'tools')?.value, '20');
    assert.equal(family(families, 'harbor_open_connections').metrics[0]?.value, '4');
    assert.equal(family(families, 'harbor_sse_streams').metrics[0]?.value, '2');
    assert.equal(family(families, 'harbor_sessions').metrics.find((m) => m.labels?.server === 'docs')?.value, '3');
    assert.equal(
      family(families, 'harbor_upstream_ratelimit_remaining_ratio').metrics.find((m) => m.labels?.upstream === 'embeddings')?.value,
      '0.03',
    );
  });

  it('labels series only with server, method, tool, kind, process, cache, upstream and copy', async () => {
    const metrics = loadedMetrics();
    // copy: the index of a pooled server's copy (bounded by replicas), never its key.
    const allowed = new Set(['server', 'method', 'tool', 'kind', 'process', 'cache', 'upstream', 'copy', 'le']);
    metrics.countRateLimited('api', 2);
    const all = (await metrics.registry.getMetricsAsJSON()) as unknown as { name: string; values: JsonSeries[] }[];
    assert.equal(all.length, 14);
    for (const metric of all) {
      for (const series of metric.values) {
        for (const name of Object.keys(series.labels)) assert.ok(allowed.has(name), `${metric.name} has label ${name}`);
      }
    }
  });

  it('uses its own registry, not prom-client’s global one', async () => {
    loadedMetrics();
    assert.equal((await globalRegistry.metrics()).includes('harbor_'), false);
    // Two instances side by side (host restart in tests) don't collide on metric names.
    assert.doesNotThrow(() => new HarborMetrics());
  });

  it('caps client-chosen method and tool names', async () => {
    const metrics = new HarborMetrics({ maxMethodLabels: 2, maxToolLabels: 2 });
    for (let i = 0; i < 50; i++) {
      metrics.observeRequest({ server: 'docs', method: `made/up/${i}`, durationMs: 1, error: 'jsonrpc', now: T0 });
      metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: `random_${i}`, durationMs: 1, now: T0 });
    }
    const series = await histogramSeries(metrics);
    const methods = new Set(series.map((s) => s.labels.method));
    const tools = new Set(series.map((s) => s.labels.tool));
    assert.ok(methods.size <= 3, `methods: ${[...methods].join(',')}`);
    assert.ok(methods.has('(other)'));
    assert.ok(tools.size <= 4, `tools: ${[...tools].join(',')}`);
    assert.ok(tools.has('(other)'));
  });

  it('exposes Node process metrics when asked', async () => {
    const metrics = new HarborMetrics({ defaultMetrics: true });
    const families = parsePrometheus(await metrics.metricsText());
    assert.ok(families.some((f) => f.name.startsWith('harbor_nodejs_')));
    assert.match(metrics.contentType, /^text\/plain/);
  });
});

describe('HarborMetrics JSON for the UI', () => {
  it('gives the six metrics', () => {
    const json = loadedMetrics().json(T0 + 1000);
    const search = json.latency[latencyKey('docs', 'tools/call', 'search_docs')];
    assert.ok(search);
    assert.equal(search.count, 40);
    assert.ok(search.p50 >= 50 && search.p50 <= 100);
    assert.ok(json.latency['github initialize']);
    assert.ok(json.latency['GET /health']);
    assert.equal(json.errors.requests, 43);
    assert.equal(json.errors.errors, 2);
    assert.equal(json.errorRate, 2 / 43);
    assert.deepEqual(json.errors.byServer.github, { requests: 1, errors: 1, ratio: 1 });
    assert.ok(json.errors.byServer['(host)']);
    assert.deepEqual(
      json.memory.find((m) => m.process === 'docs'),
      { process: 'docs', rssBytes: 410 * MB, limitBytes: 512 * MB, ratio: 410 / 512 },
    );
    assert.equal(json.memory.find((m) => m.process === 'cloudflared')?.ratio, null);
    assert.deepEqual(json.cacheHitRatio, { tools: 0.8, embeddings: 0.5 });
    assert.deepEqual(json.connections, { sockets: 4, sessions: 4, streams: 2, trend: 'flat' });
    assert.equal(json.rateLimitRemaining, 0.03);
  });

  it('computes the cache hit ratio over the rolling window from cumulative counters', () => {
    const metrics = new HarborMetrics();
    metrics.setCacheStats('tools', 0, 100, T0); // cold start: all misses
    metrics.setCacheStats('tools', 100, 100, T0 + 6 * 60_000); // then 100 hits, no new misses
    assert.equal(metrics.json(T0 + 6 * 60_000).cacheHitRatio.tools, 1);
    // A restarted cache reports smaller counters: taken as fresh counts, not negative ones.
    metrics.setCacheStats('tools', 3, 1, T0 + 6 * 60_000 + 1);
    assert.equal(metrics.cacheMisses.counts('tools', T0 + 6 * 60_000 + 1).requests, 104);
  });

  it('reports the connection trend over the last five minutes', () => {
    const metrics = new HarborMetrics();
    for (let minute = 0; minute <= 10; minute++) {
      metrics.setConnections({ sockets: minute, streams: 0, sessions: { docs: minute } }, T0 + minute * 60_000);
    }
    assert.equal(metrics.json(T0 + 10 * 60_000).connections.trend, 'up');
    metrics.setConnections({ sockets: 0, streams: 0, sessions: {} }, T0 + 11 * 60_000);
    assert.equal(metrics.json(T0 + 11 * 60_000).connections.trend, 'down');
  });

  it('shows no connection trend in the first minute after start', () => {
    const metrics = new HarborMetrics();
    // The first sample counts the CLI's own status request; seconds later it has closed.
    metrics.setConnections({ sockets: 2, streams: 0, sessions: {} }, T0);
    metrics.setConnections({ sockets: 1, streams: 0, sessions: {} }, T0 + 20_000);
    assert.equal(metrics.json(T0 + 20_000).connections.trend, 'flat');
    metrics.setConnections({ sockets: 1, streams: 0, sessions: {} }, T0 + 60_000);
    assert.equal(metrics.json(T0 + 60_000).connections.trend, 'down');
  });

  it('drops stale or expired rate-limit readings', () => {
    const metrics = new HarborMetrics({ rateLimitStaleMs: 60_000 });
    metrics.setRateLimit('embeddings', 5, 100, null, T0);
    metrics.setRateLimit('search', 50, 100, T0 + 10_000, T0);
    assert.equal(metrics.json(T0).rateLimitRemaining, 0.05);
    assert.deepEqual(metrics.values(T0 + 20_000)[METRIC.rateLimitRemaining], { embeddings: 0.05 });
    assert.equal(metrics.json(T0 + 61_000).rateLimitRemaining, null);
    metrics.setRateLimit('bad', 5, 0, null, T0);
    assert.equal(metrics.json(T0).rateLimitRemaining, null);
  });
});

describe('HarborMetrics values for alerts and history', () => {
  it('reports too-thin windows as no data', () => {
    const metrics = new HarborMetrics({ minLatencySamples: 5, minRequestsForErrorRate: 5, minCacheLookups: 10 });
    for (let i = 0; i < 4; i++) metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 't', durationMs: 5000, error: 'jsonrpc', now: T0 });
    metrics.setCacheStats('tools', 1, 8, T0);
    let values = metrics.values(T0);
    assert.deepEqual(values[METRIC.latencyP95], { 'docs/t': null });
    assert.deepEqual(values[METRIC.errorRate], { docs: null });
    assert.deepEqual(values[METRIC.cacheHitRatio], { tools: null });
    metrics.observeRequest({ server: 'docs', method: 'tools/call', tool: 't', durationMs: 5000, error: 'jsonrpc', now: T0 });
    metrics.setCacheStats('tools', 2, 8, T0);
    values = metrics.values(T0);
    assert.ok((values[METRIC.latencyP95]?.['docs/t'] ?? 0) > 4000);
    assert.equal(values[METRIC.errorRate]?.docs, 1);
    assert.ok(Math.abs((values[METRIC.cacheHitRatio]?.tools ?? 0) - 0.2) < 1e-9);
  });

  it('forgets removed processes and servers without sessions', async () => {
    const metrics = loadedMetrics();
    metrics.removeProcess('docs');
    metrics.setConnections({ sockets: 1, streams: 0, sessions: { github: 1 } }, T0 + 20_000);
    const values = metrics.values(T0 + 20_000);
    assert.deepEqual(Object.keys(values[METRIC.memoryRatio] ?? {}).sort(), ['cloudflared', 'host']);
    assert.deepEqual(values[METRIC.openConnections], { sockets: 1, sessions: 1, streams: 0 });
    const families = parsePrometheus(await metrics.metricsText());
    assert.deepEqual(family(families, 'harbor_sessions').metrics.map((m) => m.labels?.server), ['github']);
    assert.equal(family(families, 'harbor_process_memory_bytes').metrics.some((m) => m.labels?.process === 'docs'), false);
  });
});
