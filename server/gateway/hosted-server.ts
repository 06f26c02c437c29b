import type { Logger } from '../logger.ts';
import type { LivenessOptions } from './liveness-probe.ts';
import type { LogLine } from '../supervision/rotating-log.ts';
import type { SupervisorInfo } from '../supervision/supervisor.ts';
import type { ClientPeer } from './client-peer.ts';
import { ErrorCode, errorResponse, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import type { Upstream } from './upstream.ts';
import type { ToolResultCache } from './tool-cache.ts';
import { scheduleUnref } from './unref-timer.ts';
import { UpstreamRouter, type CallEvent } from './upstream-router.ts';
import { UpstreamPool, type PoolStatus, type UpstreamPoolOptions } from './upstream-pool.ts';

/** Copies, a fair queue and rate-limit back-off in front of a shared server (upstream-pool.ts). */
export type HostedPoolOptions = Omit<UpstreamPoolOptions, 'serverName' | 'copies' | 'log' | 'maxPerCopy' | 'requestTimeoutMs' | 'onCallDone'> & { replicas: number };

export type ServerMode = 'shared' | 'serial' | 'isolated';

export interface HostedServerOptions {
  name: string;
  mode: ServerMode;
  /** Upper bound on upstream processes in isolated mode. */
  maxIsolated: number;
  requestTimeoutMs: number;
  /** `copy`: which copy of a pooled server (0 otherwise), for its own replicaEnv values. */
  createUpstream: (copy: number) => Upstream;
  /** Absent: one router straight to one upstream, as before. Ignored in isolated mode. */
  pool?: HostedPoolOptions | undefined;
  log: Logger;
  onCallDone?: (server: string, event: CallEvent) => void;
  toolCache?: ToolResultCache | undefined;
  /** Intervals of the frozen-server probe (tests shorten them). */
  liveness?: Partial<LivenessOptions> | undefined;
  /** Restarts an upstream the probe found frozen; without it a frozen server is only reported. */
  restartUpstream?: (upstream: Upstream, reason: string) => void;
  /** After close() has closed every router: what the owner shares among the upstreams (a log) goes. */
  onClosed?: () => Promise<void>;
}

export interface HostedServerStatus {
  name: string;
  mode: ServerMode;
  /** A call's deadline (its config's requestTimeoutSeconds): also how long a rolling restart waits for a copy's calls. */
  requestTimeoutSeconds: number;
  sessions: number;
  upstreams: Array<{
    pid: number | undefined;
    up: boolean;
    sessions: number;
    inFlight: number;
    /** Set while it leaves a ping unanswered with calls waiting (liveness-probe.ts). */
    unresponsiveForMs: number | null;
    process: SupervisorInfo | null;
  }>;
  /** The queue and the copies' rests, for servers with a pool. */
  pool?: PoolStatus;
}

/** What a 2026-07-28 call goes through (modernPort; modern-exchange.ts ModernServerPort). */
export interface ModernPort {
  name: string;
  router: UpstreamRouter | UpstreamPool;
  isolated: boolean;
  initializeResult: () => ReturnType<UpstreamRouter['initializeResult']>;
  /** The cached result without a promise (a single router; a pool's copies are asked through initializeResult). */
  initialized?: () => ReturnType<UpstreamRouter['initialized']>;
}

/** One entry of `mcpServers` as served at /mcp/<name>: picks the router each session talks through. */
export class HostedServer {
  readonly name: string;
  readonly mode: ServerMode;
  readonly #options: HostedServerOptions;
  #shared: UpstreamRouter | null = null;
  readonly #routers = new Map<ClientPeer, UpstreamRouter>();
  #pool: UpstreamPool | null = null;
  readonly #pooled = new Set<ClientPeer>();
  #modernPort: ModernPort | null = null;

  constructor(options: HostedServerOptions) {
    this.name = options.name;
    this.mode = options.mode;
    this.#options = options;
  }

  /** Starts the shared upstream ahead of the first client, so its first call is not slowed by a spawn. */
  async warmUp(): Promise<void> {
    if (this.mode === 'isolated') return;
    const pool = this.#sharedPool();
    if (pool) return pool.warmUp();
    const router = this.#sharedRouter();
    if (!router.upstream.up) await router.upstream.start();
  }

  async openSession(session: ClientPeer, initialize: JsonRpcRequest): Promise<JsonRpcResponse> {
    let router: UpstreamRouter;
    if (this.mode === 'isolated') {
      if (this.#routers.size >= this.#options.maxIsolated) {
        return errorResponse(
          initialize.id,
          ErrorCode.LimitExceeded,
          `server "${this.name}" runs one process per session and already has ${this.#options.maxIsolated} (maxIsolated)`,
        );
      }
      router = this.#newRouter(true);
    } else if (this.#sharedPool()) {
      this.#pooled.add(session);
      const response = await this.#sharedPool()!.initialize(session, initialize);
      if (response.error) this.#pooled.delete(session);
      return response;
    } else router = this.#sharedRouter();
    this.#routers.set(session, router);
    const response = await router.initialize(session, initialize);
    if (response.error) await this.closeSession(session);
    return response;
  }

  message(session: ClientPeer, message: JsonRpcMessage): void {
    const router = this.#routers.get(session);
    if (this.#pooled.has(session)) this.#pool!.fromClient(session, message);
    else if (router) router.fromClient(session, message);
    else if ('id' in message && 'method' in message) {
      session.deliver(errorResponse(message.id, ErrorCode.InvalidRequest, 'session is not initialised'), message.id);
    }
  }

  async closeSession(session: ClientPeer): Promise<void> {
    if (this.#pooled.delete(session)) return this.#pool!.detach(session);
    const router = this.#routers.get(session);
    if (!router) return;
    this.#routers.delete(session);
    router.detach(session);
    if (this.mode === 'isolated') await router.close();
  }

  status(): HostedServerStatus {
    const routers = new Set(this.#routers.values());
    if (this.#shared) routers.add(this.#shared);
    for (const router of this.#pool?.routers ?? []) routers.add(router);
    return {
      ...(this.#pool ? { pool: this.#pool.status() } : {}),
      name: this.name,
      mode: this.mode,
      requestTimeoutSeconds: this.#options.requestTimeoutMs / 1000,
      sessions: this.#routers.size + this.#pooled.size,
      upstreams: [...routers].map((r) => ({
        pid: r.upstream.pid,
        up: r.upstream.up,
        sessions: r.sessionCount,
        inFlight: r.inFlightCount,
        unresponsiveForMs: r.unresponsiveForMs,
        process: r.upstream.info?.() ?? null,
      })),
    };
  }

  /**
   * What a 2026-07-28 (sessionless) call goes through: the shared router (shared and serial modes).
   * Null in isolated mode: one process per session needs a session, and a modern caller has none;
   * keeping a process per teammate alive with idle reaping would change what "isolated" promises
   * (a fresh process per connection), so these servers speak the 2025 era only and modern callers
   * are told so with -32022 (their clients fall back to initialize).
   */
  modernPort(): ModernPort | null {
    if (this.mode === 'isolated') return null;
    // Built once (until close()), not per call: its object and closure were per-call garbage (bench/echo-eras.ts).
    return (this.#modernPort ??= this.#newModernPort());
  }

  #newModernPort(): ModernPort {
    const pool = this.#sharedPool();
    if (pool) return { name: this.name, router: pool, isolated: false, initializeResult: () => pool.initializeResult() };
    const router = this.#sharedRouter();
    return { name: this.name, router, isolated: false, initializeResult: () => router.initializeResult(), initialized: () => router.initialized() };
  }

  /** The shared upstream (not for isolated mode, where each session has its own). */
  sharedUpstream(): Upstream {
    return this.#sharedRouter().upstream;
  }

  /** Processes behind the shared endpoint: the pool's copies (replicas), else 1; 0 in isolated mode (one per session). */
  get copies(): number {
    if (this.mode === 'isolated') return 0;
    return this.#options.pool?.replicas ?? 1;
  }

  /** Why `copy` names no process of this server (for a 404), or null when it does. */
  copyProblem(copy: number): string | null {
    const copies = this.copies;
    if (copy < copies) return null;
    if (copies === 0) return `server "${this.name}" is isolated: it runs one process per session, no numbered copies`;
    return `server "${this.name}" runs ${copies === 1 ? '1 process (copy 0)' : `${copies} copies (0 to ${copies - 1})`}; there is no copy ${copy}`;
  }

  /**
   * The last log lines of every copy (or of `copy`), oldest first; on a pool each line says its copy.
   * Null in isolated mode (one process per session) or in process.
   */
  logTail(lines: number, copy?: number): LogLine[] | null {
    const upstreams = this.#copyUpstreams();
    if (upstreams.length === 0 || upstreams[0]!.logTail === undefined) return null;
    if (upstreams.length === 1) return upstreams[0]!.logTail(lines);
    const picked = copy === undefined ? upstreams.map((_, k) => k) : [copy];
    return mergeCopyTails(picked.map((k) => (upstreams[k]?.logTail?.(lines) ?? []).map((line) => ({ ...line, copy: k }))), lines);
  }

  /**
   * Restarts the shared process, or every copy of a pool (only `copy` when given); nothing to restart
   * in isolated mode or in process. A pool of several copies restarts them one after another
   * (#rollOver), so the others carry the calls meanwhile, at the cost of a restart taking as long as N
   * drains and starts.
   */
  async restart(reason: string, copy?: number): Promise<void> {
    const pool = this.#sharedPool();
    if (pool && pool.routers.length > 1) return this.#rollOver(pool, reason, copy);
    for (const upstream of this.#copyUpstreams()) await upstream.restart?.(reason);
  }

  /**
   * Each picked copy in turn: out of the pool's pick, its calls in flight left to finish (at most the
   * call timeout, requestTimeoutSeconds: a call still running then has been answered as timed out),
   * restarted, and back in the pick once its router has the new process's initialize result (within a
   * minute, as a start is given, or the call timeout if shorter): a stdio copy counts as up when its process spawns, long before it can answer. A copy
   * that does not come back is its supervisor's to retry (status shows it); the next one still restarts.
   */
  async #rollOver(pool: UpstreamPool, reason: string, copy: number | undefined): Promise<void> {
    const bound = this.#options.requestTimeoutMs;
    const picked = copy === undefined ? pool.routers.map((_, k) => k) : [copy];
    for (const k of picked) {
      const router = pool.routers[k]!;
      if (!router.upstream.restart) continue;
      const putBack = pool.hold(k);
      try {
        await idle(router, bound);
        await router.upstream.restart(reason);
        await settledWithin(router.initializeResult(), Math.min(bound, START_BOUND_MS));
      } finally {
        putBack();
      }
    }
  }

  /** The shared process, or each copy of a pool in copy order; none in isolated mode. */
  #copyUpstreams(): Upstream[] {
    if (this.mode === 'isolated') return [];
    return this.#sharedPool()?.routers.map((r) => r.upstream) ?? [this.sharedUpstream()];
  }

  async close(): Promise<void> {
    const routers = new Set(this.#routers.values());
    if (this.#shared) routers.add(this.#shared);
    this.#routers.clear();
    this.#shared = null;
    this.#modernPort = null;
    this.#pooled.clear();
    for (const router of this.#pool?.routers ?? []) routers.delete(router);
    if (this.#pool) await this.#pool.close(); // closes its copies' routers, #shared among them
    this.#pool = null;
    await Promise.all([...routers].map((r) => r.close()));
    await this.#options.onClosed?.();
  }

  #sharedRouter(): UpstreamRouter {
    this.#shared ??= this.#newRouter(false);
    return this.#shared;
  }

  /** The pool of a shared/serial server configured with one; copy 0 is #shared, so logs and restart keep working. */
  #sharedPool(): UpstreamPool | null {
    const options = this.#options.pool;
    if (!options || this.mode === 'isolated') return null;
    const onCallDone = this.#options.onCallDone;
    this.#pool ??= new UpstreamPool({
      ...options,
      serverName: this.name,
      log: this.#options.log,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      ...(onCallDone ? { onCallDone: (event: CallEvent) => onCallDone(this.name, event) } : {}),
      // serial: one call per copy, through the same fair queue (the router's own serial line then never fills).
      maxPerCopy: this.mode === 'serial' ? 1 : Infinity,
      copies: Array.from({ length: options.replicas }, (_, k) => (k === 0 ? this.#sharedRouter() : this.#newRouter(false, k))),
    });
    return this.#pool;
  }

  #newRouter(ownedBySession: boolean, copy = 0): UpstreamRouter {
    const onCallDone = this.#options.onCallDone;
    // A pool reports its tool calls itself, timed from their arrival (queue wait included); its copies report the rest.
    const pooled = !ownedBySession && this.#options.pool !== undefined;
    const upstream = this.#options.createUpstream(copy);
    const restart = this.#options.restartUpstream;
    return new UpstreamRouter(upstream, {
      serverName: this.name,
      serial: this.mode === 'serial',
      offerRoots: ownedBySession,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      log: this.#options.log,
      toolCache: this.#options.toolCache,
      liveness: this.#options.liveness,
      ...(restart ? { onStuck: (reason: string) => restart(upstream, reason) } : {}),
      ...(onCallDone
        ? {
            onCallDone: (event: CallEvent) => {
              if (!pooled || event.method !== 'tools/call') onCallDone(this.name, event);
            },
          }
        : {}),
    });
  }
}

/** The copies' tails as one, oldest first (by time, each copy's own order kept on a tie), the last `lines`. */
function mergeCopyTails(tails: LogLine[][], lines: number): LogLine[] {
  return tails.flat().sort((a, b) => a.at - b.at).slice(-lines);
}

/** A restarted copy's wait for its initialize result: StdioUpstream.start's own bound. */
const START_BOUND_MS = 60_000;

/**
 * When `router` has no call in flight, or after `ms`. Polled: the router raises no event for it (its
 * calls are tool calls and lists alike), and a drain is rare and short.
 */
function idle(router: UpstreamRouter, ms: number, pollMs = 25): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise((resolve) => {
    const check = () => (router.inFlightCount === 0 || performance.now() >= deadline ? resolve() : void setTimeout(check, pollMs).unref());
    check();
  });
}

/** Waits for `work` to settle (either way) or for `ms`, whichever comes first; never rejects. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let cancel = () => {};
  const timeUp = new Promise<void>((resolve) => (cancel = scheduleUnref(resolve, ms)));
  await Promise.race([work.then(() => {}, () => {}), timeUp]);
  cancel();
}
