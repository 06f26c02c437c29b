import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC, type MetricValues } from './metric-values.ts';
import { RollingLatency, type LatencySummary } from './rolling-latency.ts';
import { RollingRate, type RateCounts } from './rolling-rate.ts';
import type { SlotRingOptions } from './slot-ring.ts';

/**
 * Harbor's metrics in one object: rolling windows for the UI and alerts, and a private prom-client
 * Registry for `GET /metrics`. Labels carry server, method, tool, process, cache and upstream
 * names only — never a token, a teammate or an API key — and values that come from clients
 * (methods, tool names) are capped so a client can't grow the series without bound.
 */
export type ErrorKind = 'http_5xx' | 'jsonrpc' | 'rate_limited'; // rate_limited: refused by the per-teammate rate (429)

export interface RequestObservation {
  /** Hosted server name; '' for Harbor's own endpoints (/health, /metrics…). */
  server: string;
  /** JSON-RPC method ('tools/call') or, for non-MCP endpoints, the route ('GET /health'). */
  method: string;
  /** Tool name of a tools/call. */
  tool?: string | null;
  durationMs: number;
  /** Why the request counts as failed, if it does. */
  error?: ErrorKind | null;
  now?: number;
}

export interface ConnectionCounts {
  /** Open TCP sockets on the HTTP server. */
  sockets: number;
  /** Open SSE streams (GET streams and streaming POST responses, legacy /sse included). */
  streams: number;
  /** Live MCP sessions per hosted server; servers missing here are reported as 0 sessions. */
  sessions: Record<string, number>;
}

export type ConnectionTrend = 'up' | 'down' | 'flat';

export interface ProcessMemory {
  process: string;
  rssBytes: number;
  limitBytes: number | null;
  /** rss / limit, null without a limit. */
  ratio: number | null;
}

/** The six metrics of DESIGN.md section 7 for the UI. Latencies in milliseconds, ratios in 0…1. */
export interface MetricsJson {
  latency: Record<string, LatencySummary>;
  /** Failed / all requests over the rolling window, all servers together; null without requests. */
  errorRate: number | null;
  errors: { requests: number; errors: number; byServer: Record<string, RateCounts> };
  memory: ProcessMemory[];
  /** Hits / lookups over the rolling window per cache; null without lookups. */
  cacheHitRatio: Record<string, number | null>;
  connections: { sockets: number; sessions: number; streams: number; trend: ConnectionTrend };
  /** Lowest remaining / limit across upstream APIs; null when none reported recently. */
  rateLimitRemaining: number | null;
}

export interface HarborMetricsOptions {
  /** Rolling window of latencies, error rate and cache ratio; default 10 slots × 30 s. */
  window?: SlotRingOptions;
  /** Below this many requests in the window a p95 / error rate is "no data" for alerts. */
  minLatencySamples?: number;
  minRequestsForErrorRate?: number;
  minCacheLookups?: number;
  /** A rate-limit reading older than this is dropped (no request has refreshed it). */
  rateLimitStaleMs?: number;
  /** Distinct method / tool label values before the rest are reported as '(other)'. */
  maxMethodLabels?: number;
  maxToolLabels?: number;
  /** Also export Node's process metrics (CPU, heap, event loop lag) as harbor_nodejs_*. */
  defaultMetrics?: boolean;
}

const OTHER = '(other)';
const HOST_SERVER = '(host)';
/** Seconds; covers a fast cache hit up to the client's 60 s request timeout. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const TREND_SPAN_MS = 5 * 60_000;
const TREND_SAMPLE_MS = 10_000;
const TREND_MIN_SPAN_MS = 60_000;

/** Rolling-latency key: `server/tool` for a tool call, else `server method`, else the route. */
export function latencyKey(server: string, method: string, tool?: string | null): string {
  if (tool) return `${server}/${tool}`;
  return server ? `${server} ${method}` : method;
}

/** Admits the first `max` distinct values of a client-chosen label; the rest become '(other)'. */
class BoundedLabel {
  readonly #seen = new Set<string>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  admit(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return OTHER;
    this.#seen.add(value);
    return value;
  }
}

interface CacheCounters {
  hits: number;
  misses: number;
}

interface RateLimitReading {
  ratio: number;
  at: number;
  resetAt: number | null;
}

export class HarborMetrics {
  readonly registry = new Registry();
  readonly latency: RollingLatency;
  readonly errors: RollingRate;
  /** Rolling misses / lookups per cache (the hit ratio is one minus it). */
  readonly cacheMisses: RollingRate;

  readonly #options: Required<Omit<HarborMetricsOptions, 'window'>>;
  readonly #methods: BoundedLabel;
  readonly #tools: BoundedLabel;
  readonly #duration: Histogram<'server' | 'method' | 'tool'>;
  readonly #requests: Counter<'server' | 'method'>;
  readonly #errorsTotal: Counter<'server' | 'kind'>;
  readonly #memoryBytes: Gauge<'process'>;
  readonly #memoryLimit: Gauge<'process'>;
  readonly #sessionsGauge: Gauge<'server'>;
  readonly #socketsGauge: Gauge;
  readonly #streamsGauge: Gauge;
  readonly #rateLimitGauge: Gauge<'upstream'>;
  readonly #queueWait: Histogram<'server'>;
  readonly #queuedGauge: Gauge<'server'>;
  readonly #rateLimitedTotal: Counter<'server' | 'copy'>;

  readonly #memory = new Map<string, ProcessMemory>();
  readonly #caches = new Map<string, CacheCounters>();
  readonly #rateLimits = new Map<string, RateLimitReading>();
  #connections: ConnectionCounts = { sockets: 0, streams: 0, sessions: {} };
  readonly #trend: { t: number; total: number }[] = [];

  constructor(options: HarborMetricsOptions = {}) {
    this.#options = {
      minLatencySamples: options.minLatencySamples ?? 10,
      minRequestsForErrorRate: options.minRequestsForErrorRate ?? 20,
      minCacheLookups: options.minCacheLookups ?? 50,
      rateLimitStaleMs: options.rateLimitStaleMs ?? 10 * 60_000,
      maxMethodLabels: options.maxMethodLabels ?? 64,
      maxToolLabels: options.maxToolLabels ?? 500,
      defaultMetrics: options.defaultMetrics ?? false,
    };
    this.latency = new RollingLatency(options.window);
    this.errors = new RollingRate(options.window);
    this.cacheMisses = new RollingRate(options.window);
    this.#methods = new BoundedLabel(this.#options.maxMethodLabels);
    this.#tools = new BoundedLabel(this.#options.maxToolLabels);
    const registers = [this.registry];
    this.#duration = new Histogram({
      name: 'harbor_request_duration_seconds',
      help: 'Time to answer a request, by hosted server, JSON-RPC method and tool.',
      labelNames: ['server', 'method', 'tool'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#requests = new Counter({
      name: 'harbor_requests_total',
      help: 'Requests answered, by hosted server and JSON-RPC method.',
      labelNames: ['server', 'method'],
      registers,
    });
    this.#errorsTotal = new Counter({
      name: 'harbor_errors_total',
      help: 'Failed requests by kind: http_5xx (HTTP 5xx answers), jsonrpc (JSON-RPC errors and failed tool calls), rate_limited (refused by a teammate\'s rate, HTTP 429; not in the error rate).',
      labelNames: ['server', 'kind'],
      registers,
    });
    this.#memoryBytes = new Gauge({
      name: 'harbor_process_memory_bytes',
      help: 'Resident memory of a supervised process tree.',
      labelNames: ['process'],
      registers,
    });
    this.#memoryLimit = new Gauge({
      name: 'harbor_process_memory_limit_bytes',
      help: 'Memory limit of a supervised process; above it the watchdog restarts the process.',
      labelNames: ['process'],
      registers,
    });
    const caches = this.#caches;
    new Counter({
      name: 'harbor_cache_hits_total',
      help: 'Cache lookups answered from the cache.',
      labelNames: ['cache'],
      registers,
      collect() {
        this.reset();
        for (const [cache, counters] of caches) this.inc({ cache }, counters.hits);
      },
    });
    new Counter({
      name: 'harbor_cache_misses_total',
      help: 'Cache lookups that had to go to the source.',
      labelNames: ['cache'],
      registers,
      collect() {
        this.reset();
        for (const [cache, counters] of caches) this.inc({ cache }, counters.misses);
      },
    });
    this.#socketsGauge = new Gauge({
      name: 'harbor_open_connections',
      help: 'Open TCP connections to the HTTP server.',
      registers,
    });
    this.#sessionsGauge = new Gauge({
      name: 'harbor_sessions',
      help: 'Live MCP sessions per hosted server.',
      labelNames: ['server'],
      registers,
    });
    this.#streamsGauge = new Gauge({
      name: 'harbor_sse_streams',
      help: 'Open server-sent-event streams.',
      registers,
    });
    this.#rateLimitGauge = new Gauge({
      name: 'harbor_upstream_ratelimit_remaining_ratio',
      help: 'Remaining / limit of an upstream API rate limit (from x-ratelimit-* headers); for a pooled hosted server, the share of its copies not resting after a rate limit.',
      labelNames: ['upstream'],
      registers,
    });
    this.#queueWait = new Histogram({
      name: 'harbor_queue_wait_seconds',
      help: 'Time a tool call waited in a hosted server\'s queue (maxConcurrentCalls) before it started.',
      labelNames: ['server'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#queuedGauge = new Gauge({
      name: 'harbor_queued_calls',
      help: 'Tool calls waiting in a hosted server\'s queue.',
      labelNames: ['server'],
      registers,
    });
    this.#rateLimitedTotal = new Counter({
      name: 'harbor_upstream_rate_limited_total',
      help: 'Answers of a hosted server saying the API behind it rate-limited the call, by server and copy.',
      labelNames: ['server', 'copy'],
      registers,
    });
    if (this.#options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'harbor_nodejs_' });
  }

  /** Call once per answered request (HTTP or JSON-RPC message), after the answer is sent. */
  observeRequest(observation: RequestObservation): void {
    const now = observation.now ?? Date.now();
    const server = observation.server;
    const method = this.#methods.admit(observation.method);
    const tool = observation.tool ? this.#tools.admit(`${server}/${observation.tool}`) : '';
    const toolName = tool === '' || tool === OTHER ? tool : observation.tool!;
    const ms = Math.max(0, observation.durationMs);
    this.#duration.observe({ server, method, tool: toolName }, ms / 1000);
    this.#requests.inc({ server, method });
    if (observation.error) this.#errorsTotal.inc({ server, kind: observation.error });
    this.latency.observe(latencyKey(server, method, toolName), ms, now);
    // A teammate's refusals (429, a full queue) stay out of the error rate, numerator and denominator:
    // DESIGN.md's rate is 5xx + JSON-RPC errors, and one runaway loop must not fire (or, counted as
    // successes, mask) the server's "error rate > 5 %" alert for everyone. harbor_errors_total has them.
    if (observation.error !== 'rate_limited') this.errors.record(server || HOST_SERVER, Boolean(observation.error), now);
  }

  /** From the supervisor's memory watchdog; `limitBytes` null when the process has no limit. */
  setProcessMemory(process: string, rssBytes: number, limitBytes: number | null): void {
    const ratio = limitBytes && limitBytes > 0 ? rssBytes / limitBytes : null;
    this.#memory.set(process, { process, rssBytes, limitBytes, ratio });
    this.#memoryBytes.set({ process }, rssBytes);
    if (limitBytes && limitBytes > 0) this.#memoryLimit.set({ process }, limitBytes);
    else this.#memoryLimit.remove({ process });
  }

  /** A process that was removed from the configuration (not one that merely stopped). */
  removeProcess(process: string): void {
    this.#memory.delete(process);
    this.#memoryBytes.remove({ process });
    this.#memoryLimit.remove({ process });
  }

  /**
   * Cumulative hit and miss counts of a cache since it started. The change since the previous call
   * feeds the rolling hit ratio; counts that went down mean the cache restarted and are taken whole.
   */
  setCacheStats(cache: string, hits: number, misses: number, now: number = Date.now()): void {
    const previous = this.#caches.get(cache);
    const newHits = previous && hits >= previous.hits ? hits - previous.hits : hits;
    const newMisses = previous && misses >= previous.misses ? misses - previous.misses : misses;
    this.#caches.set(cache, { hits, misses });
    this.cacheMisses.add(cache, newHits + newMisses, newMisses, now);
  }

  /** Current connection counts, replacing the previous ones; call every few seconds. */
  setConnections(counts: ConnectionCounts, now: number = Date.now()): void {
    for (const server of Object.keys(this.#connections.sessions)) {
      if (!Object.hasOwn(counts.sessions, server)) this.#sessionsGauge.remove({ server });
    }
    this.#connections = { sockets: counts.sockets, streams: counts.streams, sessions: { ...counts.sessions } };
    this.#socketsGauge.set(counts.sockets);
    this.#streamsGauge.set(counts.streams);
    for (const [server, count] of Object.entries(counts.sessions)) this.#sessionsGauge.set({ server }, count);

    const total = counts.sockets + counts.streams + sum(Object.values(counts.sessions));
    const last = this.#trend.at(-1);
    if (last !== undefined && now - last.t < TREND_SAMPLE_MS) last.total = total;
    else this.#trend.push({ t: now, total });
    while (this.#trend.length > 2 && this.#trend[1]!.t <= now - TREND_SPAN_MS) this.#trend.shift();
  }

  /**
   * Rate-limit state of an upstream API from its x-ratelimit-remaining / -limit headers.
   * `resetAt` (epoch ms), when known, is when the reading stops being true.
   */
  setRateLimit(upstream: string, remaining: number, limit: number, resetAt: number | null = null, now: number = Date.now()): void {
    if (!(limit > 0) || !(remaining >= 0)) return;
    const ratio = Math.min(1, remaining / limit);
    this.#rateLimits.set(upstream, { ratio, at: now, resetAt });
    this.#rateLimitGauge.set({ upstream }, ratio);
  }

  /** A queued tool call started after waiting `ms` (0 when a slot was free). */
  observeQueueWait(server: string, ms: number): void {
    this.#queueWait.observe({ server }, Math.max(0, ms) / 1000);
  }

  /** Calls waiting in a hosted server's queue, sampled. */
  setQueued(server: string, queued: number): void {
    this.#queuedGauge.set({ server }, queued);
  }

  /** One rate-limited answer from copy `copy` (0-based) of a hosted server. */
  countRateLimited(server: string, copy: number): void {
    this.#rateLimitedTotal.inc({ server, copy: String(copy) });
  }

  /** Prometheus text exposition for `GET /metrics`. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content-Type header to send with metricsText(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The six metrics for the UI. */
  json(now: number = Date.now()): MetricsJson {
    const byServer = this.errors.snapshot(now);
    let requests = 0;
    let errors = 0;
    for (const counts of Object.values(byServer)) {
      requests += counts.requests;
      errors += counts.errors;
    }
    const cacheHitRatio: Record<string, number | null> = {};
    for (const cache of this.#caches.keys()) {
      const miss = this.cacheMisses.rate(cache, now);
      cacheHitRatio[cache] = miss === null ? null : 1 - miss;
    }
    const rateLimits = Object.values(this.#currentRateLimits(now));
    return {
      latency: this.latency.snapshot(now),
      errorRate: requests > 0 ? errors / requests : null,
      errors: { requests, errors, byServer },
      memory: [...this.#memory.values()].map((entry) => ({ ...entry })),
      cacheHitRatio,
      connections: {
        sockets: this.#connections.sockets,
        sessions: sum(Object.values(this.#connections.sessions)),
        streams: this.#connections.streams,
        trend: this.#trendNow(),
      },
      rateLimitRemaining: rateLimits.length > 0 ? Math.min(...rateLimits) : null,
    };
  }

  /**
   * Current values for the alert evaluator and the history. Windows with too few samples to mean
   * anything are reported as null ("no data"), which never fires an alert.
   */
  values(now: number = Date.now()): MetricValues {
    const latency: Record<string, number | null> = {};
    for (const [key, summary] of Object.entries(this.latency.snapshot(now))) {
      latency[key] = summary.count >= this.#options.minLatencySamples ? summary.p95 : null;
    }
    const errorRate: Record<string, number | null> = {};
    for (const [server, counts] of Object.entries(this.errors.snapshot(now))) {
      errorRate[server] = counts.requests >= this.#options.minRequestsForErrorRate ? counts.ratio : null;
    }
    const memory: Record<string, number | null> = {};
    for (const entry of this.#memory.values()) memory[entry.process] = entry.ratio;
    const cache: Record<string, number | null> = {};
    for (const name of this.#caches.keys()) {
      const counts = this.cacheMisses.counts(name, now);
      cache[name] = counts.requests >= this.#options.minCacheLookups && counts.ratio !== null ? 1 - counts.ratio : null;
    }
    return {
      [METRIC.latencyP95]: latency,
      [METRIC.errorRate]: errorRate,
      [METRIC.memoryRatio]: memory,
      [METRIC.cacheHitRatio]: cache,
      [METRIC.openConnections]: {
        sockets: this.#connections.sockets,
        sessions: sum(Object.values(this.#connections.sessions)),
        streams: this.#connections.streams,
      },
      [METRIC.rateLimitRemaining]: this.#currentRateLimits(now),
    };
  }

  #currentRateLimits(now: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [upstream, reading] of this.#rateLimits) {
      const stale = now - reading.at > this.#options.rateLimitStaleMs || (reading.resetAt !== null && now >= reading.resetAt);
      if (stale) {
        this.#rateLimits.delete(upstream);
        this.#rateLimitGauge.remove({ upstream });
      } else {
        result[upstream] = reading.ratio;
      }
    }
    return result;
  }

  /**
   * Newest total against the oldest sample of the last five minutes. Seconds after start every count
   * has just moved (clients connecting, the first poll's socket closing): no trend until the samples
   * span a minute.
   */
  #trendNow(): ConnectionTrend {
    const first = this.#trend[0];
    const last = this.#trend.at(-1);
    if (first === undefined || last === undefined || last.total === first.total || last.t - first.t < TREND_MIN_SPAN_MS) return 'flat';
    return last.total > first.total ? 'up' : 'down';
  }
}

function sum(values: number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
