import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { SessionRegistry } from '../http/session-registry.ts';
import type { Logger } from '../logger.ts';
import type { SqliteDatabase } from '../store/sqlite-database.ts';
import type { Supervisor } from '../supervision/supervisor.ts';
import { AlertEvaluator, type AlertEvent, type AlertStatus } from './alert-evaluator.ts';
import type { AlertRule } from './alert-rules.ts';
import { computeHealth, type Health, type ProcessHealth, type RestartRecord, type TunnelState } from './health.ts';
import { MetricHistory } from './history.ts';
import { HarborMetrics, type ErrorKind } from './registry.ts';

export interface ShareStatus {
  state: TunnelState;
  shared: boolean;
  detail?: string;
}

export interface ObservedCall {
  server: string;
  method: string;
  tool: string | undefined;
  durationMs: number;
  error: ErrorKind | null;
}

export interface HostObservabilityOptions {
  servers: Map<string, HostedServer>;
  db: SqliteDatabase;
  /** Where history lives when not in `db` (PostgreSQL, one set per replica: server/open-store.ts). */
  history?: MetricHistory;
  rules: AlertRule[];
  hostMemoryLimitBytes: number;
  share: () => ShareStatus;
  /** Cache counters to publish: name → cumulative hits and misses. */
  caches?: () => Array<{ name: string; hits: number; misses: number }>;
  /** Upstream API rate limits: name → remaining/limit. */
  rateLimits?: () => Array<{ name: string; remaining: number; limit: number }>;
  log: Logger;
  sampleMs?: number;
  historyMs?: number;
}

/** What is sampled of the HTTP server: its sessions and its sockets. */
export interface ObservedHttp {
  registry: Pick<SessionRegistry, 'all'>;
  server: Pick<Server, 'getConnections'>;
}

const RESTART_MEMORY_MS = 60 * 60 * 1000;

/**
 * The host's six metrics, their alert rules, their history and the health colour, fed from the
 * request path (cheap counters) and from a periodic sample of processes, sessions and caches.
 */
export class HostObservability extends EventEmitter<{ alert: [AlertEvent]; health: [Health] }> {
  readonly metrics = new HarborMetrics();
  readonly history: MetricHistory;
  readonly alerts: AlertEvaluator;
  readonly #options: HostObservabilityOptions;
  readonly #supervisors = new Map<Supervisor, { server: string; restarts: RestartRecord[] }>();
  readonly #timers: NodeJS.Timeout[] = [];
  #lastHealth: Health | null = null;
  #http: ObservedHttp | null = null;
  #configRefused: string | null = null;

  constructor(options: HostObservabilityOptions) {
    super();
    this.#options = options;
    this.history = options.history ?? new MetricHistory(options.db);
    this.alerts = new AlertEvaluator({ rules: options.rules, source: (now) => this.metrics.values(now), logger: options.log });
    this.alerts.on('change', (event) => {
      options.log.info({ rule: event.ruleId, label: event.label, to: event.to, value: event.value }, event.message);
      this.emit('alert', event);
      this.#checkHealth();
    });
  }

  start(): void {
    this.sample();
    this.alerts.start();
    const sampler = setInterval(() => this.sample(), this.#options.sampleMs ?? 5000);
    const recorder = setInterval(() => {
      try {
        this.history.record(this.metrics.values());
      } catch (error) {
        // A full disk costs the charts a point, nothing more.
        this.#options.log.warn({ err: (error as Error).message }, 'could not record metric history');
      }
    }, this.#options.historyMs ?? 10_000);
    sampler.unref();
    recorder.unref();
    this.#timers.push(sampler, recorder);
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.alerts.stop();
  }

  /** One answered call; on the hot path, so counters only. */
  observe(call: ObservedCall): void {
    this.metrics.observeRequest({ server: call.server, method: call.method, tool: call.tool ?? null, durationMs: call.durationMs, error: call.error });
  }

  /**
   * Samples the HTTP server's sessions, streams and sockets from now on. A method, not an option: the
   * HTTP server is built after this (it answers /health and /metrics from here), as `watch` follows
   * supervisors that start later.
   */
  watchHttp(http: ObservedHttp): void {
    this.#http = http;
  }

  /** Follows a supervised upstream's restarts for the health sentences. */
  watch(server: string, supervisor: Supervisor): void {
    const entry = { server, restarts: [] as RestartRecord[] };
    this.#supervisors.set(supervisor, entry);
    supervisor.on('state', (event) => {
      // A disposed supervisor (an isolated session's upstream, a removed server) is gone for good.
      if (event.to === 'stopped' && event.reason === 'disposed') {
        this.unwatch(supervisor);
        return;
      }
      if (event.to === 'crashed' || event.rssBytes !== undefined) {
        const record: RestartRecord = { at: event.at, cause: event.rssBytes !== undefined ? 'memory' : 'crash', exitCode: event.exitCode };
        if (event.rssBytes !== undefined) record.rssBytes = event.rssBytes;
        if (event.memoryLimitBytes !== undefined) record.limitBytes = event.memoryLimitBytes;
        entry.restarts.push(record);
        const cutoff = Date.now() - RESTART_MEMORY_MS;
        while (entry.restarts.length > 0 && entry.restarts[0]!.at < cutoff) entry.restarts.shift();
      }
      this.#checkHealth();
    });
  }

  /** A restart Harbor chose for a reason the supervisor cannot see (e.g. 'unresponsive'): counted like a crash. */
  noteRestart(supervisor: Supervisor, cause: string): void {
    const entry = this.#supervisors.get(supervisor);
    if (!entry) return;
    entry.restarts.push({ at: Date.now(), cause });
    this.#checkHealth();
  }

  unwatch(supervisor: Supervisor): void {
    this.#supervisors.delete(supervisor);
  }

  /** Processes, sessions, streams and caches, sampled every few seconds. */
  sample(): void {
    const { metrics } = this;
    const rss = process.memoryUsage().rss;
    metrics.setProcessMemory('host', rss, this.#options.hostMemoryLimitBytes);
    for (const [supervisor, { server }] of this.#supervisors) {
      const info = supervisor.info();
      const label = this.#labelFor(supervisor, server);
      if (info.pid) metrics.setProcessMemory(label, info.rssBytes, info.memoryLimitBytes);
      else metrics.removeProcess(label);
    }
    if (this.#http) {
      const sessions: Record<string, number> = {};
      let streams = 0;
      for (const session of this.#http.registry.all()) {
        sessions[session.server.name] = (sessions[session.server.name] ?? 0) + 1;
        streams += session.openStreams;
      }
      this.#http.server.getConnections((error, sockets) => {
        metrics.setConnections({ sockets: error ? 0 : sockets, streams, sessions });
      });
    }
    for (const cache of this.#options.caches?.() ?? []) metrics.setCacheStats(cache.name, cache.hits, cache.misses);
    for (const limit of this.#options.rateLimits?.() ?? []) metrics.setRateLimit(limit.name, limit.remaining, limit.limit);
    for (const hosted of this.#options.servers.values()) {
      const queue = hosted.status().pool?.queue;
      if (queue) metrics.setQueued(hosted.name, queue.queued);
    }
    this.#checkHealth();
  }

  health(now = Date.now()): Health {
    const processes: ProcessHealth[] = [];
    for (const [supervisor, { server, restarts }] of this.#supervisors) {
      const info = supervisor.info();
      processes.push({ name: this.#labelFor(supervisor, server), state: info.state, restarts: info.restarts, restartHistory: restarts, nextRetryAt: info.nextStartAt });
    }
    return computeHealth({
      host: { name: 'Harbor host', state: 'online', restarts: 0 },
      processes,
      alerts: this.alerts.firing().map((a) => ({ message: a.message, severity: a.severity })),
      tunnel: this.#options.share(),
      unresponsive: this.#unresponsive(),
      configRefused: this.#configRefused,
      now,
    });
  }

  /** Hosted servers whose liveness probe finds them frozen; isolated ones told apart by pid. */
  #unresponsive(): Array<{ name: string; silentMs: number }> {
    const found: Array<{ name: string; silentMs: number }> = [];
    for (const hosted of this.#options.servers.values()) {
      const { upstreams } = hosted.status();
      for (const u of upstreams) {
        if (u.unresponsiveForMs === null) continue;
        found.push({ name: upstreams.length > 1 ? `${hosted.name}#${u.pid ?? '-'}` : hosted.name, silentMs: u.unresponsiveForMs });
      }
    }
    return found;
  }

  /**
   * A refused edit of config.json stays an amber reason until a later edit is accepted (null): the
   * file and what is served disagree until then, which a one-off notification would stop saying.
   */
  setConfigRefused(problems: string | null): void {
    this.#configRefused = problems;
    this.#checkHealth();
  }

  alertStatus(): AlertStatus[] {
    return this.alerts.status().filter((a) => a.state === 'firing' || a.state === 'pending');
  }

  #labelFor(supervisor: Supervisor, server: string): string {
    // Isolated servers run several processes: tell them apart by pid.
    let count = 0;
    for (const entry of this.#supervisors.values()) if (entry.server === server) count++;
    return count > 1 ? `${server}#${supervisor.pid ?? '-'}` : server;
  }

  #checkHealth(): void {
    const health = this.health();
    const previous = this.#lastHealth;
    this.#lastHealth = health;
    if (!previous || previous.state !== health.state || previous.reasons.join('\n') !== health.reasons.join('\n')) {
      this.emit('health', health);
    }
  }
}
