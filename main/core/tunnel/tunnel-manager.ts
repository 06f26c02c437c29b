import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../../../server/logger.ts';
import { cloudflaredInvocation, type TunnelMode } from './cloudflared-args.ts';
import { findCloudflared } from './cloudflared-binary.ts';
import { freeLoopbackPort } from './free-port.ts';
import { withoutHarborSecrets } from '../../../server/supervision/child-env.ts';
import type { RotatingLog, RotatingLogOptions } from '../../../server/supervision/rotating-log.ts';
import { Supervisor, type ExitEvent, type LogEvent, type SupervisorInfo } from '../../../server/supervision/supervisor.ts';
import {
  DEFAULT_TUNNEL_TIMEOUT_MS,
  fetchReadiness,
  waitForQuickTunnelUrl,
  waitForReady,
  type LineSource,
} from './quick-tunnel-url.ts';

export type TunnelState = 'off' | 'starting' | 'online' | 'degraded' | 'down';

export interface TunnelStatus {
  state: TunnelState;
  mode: TunnelMode | null;
  /** `https://…`; in quick mode it changes on every cloudflared restart. Null until known (or named mode without a hostname). */
  publicUrl: string | null;
  lastError: string | null;
  /** Set whenever mode is quick: a standing limitation of quick tunnels, not a fault. */
  degradedReason?: string;
}

export type TunnelStartOptions =
  | { mode: 'quick'; hostPort: number }
  | {
      mode: 'named';
      /** Informational: the dashboard's public-hostname service must point at http://127.0.0.1:<hostPort>. */
      hostPort?: number;
      token: string;
      /** Public hostname configured for the tunnel in the Cloudflare dashboard; becomes publicUrl. */
      hostname?: string;
    };

export interface TunnelManagerOptions {
  /** Electron's `process.resourcesPath` in a packaged app (main/shell passes it; main/core never imports electron). */
  resourcesPath?: string;
  /** Overrides binary discovery entirely. */
  binaryPath?: string;
  /** Base environment of the child; default process.env. `HARBOR_CLOUDFLARED` in it is honoured by discovery. */
  env?: NodeJS.ProcessEnv;
  /** Deadline for the URL and the first edge connection after each spawn. Default 30 s. */
  readyTimeoutMs?: number;
  /** How often /ready is polled while up; 0 disables. Default 15 s. */
  healthIntervalMs?: number;
  /** After a wake from sleep: how long a live cloudflared may take to reconnect before it is restarted. Default 10 s. */
  reconnectGraceMs?: number;
  /** cloudflared's output: a shared RotatingLog or options for one (default: the supervisor's in-memory tail). */
  log?: RotatingLog | RotatingLogOptions;
  logger?: Logger;
}

export const QUICK_TUNNEL_LIMITATION =
  "quick tunnels buffer SSE at Cloudflare's edge: server→client streams are degraded; POSTs are answered with JSON";

/** Lines of cloudflared's log kept for URL discovery and error messages. */
const KEPT_LINES = 200;
/** Consecutive unanswered /ready polls after which a running cloudflared is taken for wedged. */
const WEDGED_AFTER_POLLS = 3;

export interface TunnelEvents {
  /** Every change of state(), with the new status. */
  state: [TunnelStatus];
  /** The public URL changed (first learned, or a quick tunnel restarted with a new one). */
  url: [publicUrl: string, previousUrl: string | null];
  /** One line of cloudflared's output. */
  log: [line: string];
}

/**
 * Keeps one cloudflared running under a supervisor and says where the team can reach Harbor.
 * State: off → starting → online ⇄ degraded (alive but no edge connection) ; down when cloudflared
 * died or did not come up in time (the supervisor keeps retrying with backoff; a later success goes
 * back to online). Never emits 'error': failures are in `state().lastError` and reject `start()`.
 */
export class TunnelManager extends EventEmitter<TunnelEvents> {
  readonly #options: TunnelManagerOptions;
  readonly #log: Logger;
  #runner: Supervisor | undefined;
  #status: TunnelStatus = { state: 'off', mode: null, publicUrl: null, lastError: null };
  #metricsUrl: string | undefined;
  #namedUrl: string | null = null;
  /** Bumped by every start/stop so callbacks of an earlier run do nothing. */
  #generation = 0;
  #lines: string[] = [];
  #lineListeners = new Set<(line: string) => void>();
  #spawnAbort: AbortController | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #unansweredPolls = 0;
  #firstOutcome: { resolve: (status: TunnelStatus) => void; reject: (error: Error) => void } | undefined;

  constructor(options: TunnelManagerOptions = {}) {
    super();
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  state(): TunnelStatus {
    return { ...this.#status };
  }

  /** Where cloudflared's metrics server listens (for diagnostics and tests). */
  get metricsUrl(): string | undefined {
    return this.#metricsUrl;
  }

  /** The supervised process's pid, if one is running. */
  get pid(): number | undefined {
    return this.#runner?.info().pid ?? undefined;
  }

  /** Restarts, last exit, memory of the cloudflared process, for the health view; null when off. */
  supervisorInfo(): SupervisorInfo | null {
    return this.#runner?.info() ?? null;
  }

  /**
   * Starts cloudflared (stopping a previous one first) and resolves once the tunnel is online, or
   * rejects with the first failure: binary missing, early exit, or no URL/connection within the
   * timeout. After a rejection from a started process the supervisor keeps retrying; call stop().
   */
  async start(options: TunnelStartOptions): Promise<TunnelStatus> {
    await this.stop();
    const generation = ++this.#generation;
    this.#namedUrl = options.mode === 'named' && options.hostname ? `https://${options.hostname.replace(/^https:\/\//, '')}` : null;
    this.#update({
      state: 'starting',
      mode: options.mode,
      publicUrl: null,
      lastError: null,
      degradedReason: options.mode === 'quick' ? QUICK_TUNNEL_LIMITATION : undefined,
    });

    let command: string;
    try {
      command = this.#options.binaryPath ?? findCloudflared({ resourcesPath: this.#options.resourcesPath, env: this.#options.env });
    } catch (error) {
      this.#update({ state: 'down', lastError: (error as Error).message });
      throw error;
    }
    const metricsPort = await freeLoopbackPort();
    if (generation !== this.#generation) throw new Error('tunnel start superseded by a later start or stop');
    this.#metricsUrl = `http://127.0.0.1:${metricsPort}`;
    const invocation =
      options.mode === 'quick'
        ? cloudflaredInvocation({ mode: 'quick', hostPort: options.hostPort, metricsPort })
        : cloudflaredInvocation({ mode: 'named', token: options.token, metricsPort });

    const readyTimeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
    const runner = new Supervisor({
      name: 'cloudflared',
      command,
      args: invocation.args,
      // The whole environment, not added to process.env: `env` option decides what the child sees.
      // cloudflared reads TUNNEL_* and proxy settings from it; Harbor's secrets are taken out, and
      // the token it needs comes from the invocation alone.
      env: { ...withoutHarborSecrets(this.#options.env ?? process.env), ...invocation.env },
      inheritEnv: 'none',
      ready: (_child, signal) => this.#awaitTunnel(generation, options.mode, signal),
      // Our own deadline fires first, with the better message.
      readyTimeoutMs: readyTimeoutMs + 5_000,
      logger: this.#log,
      ...(this.#options.log ? { log: this.#options.log } : {}),
    });
    this.#runner = runner;
    runner.on('spawn', (child) => this.#onSpawn(generation, child.pid));
    runner.on('log', (event) => this.#onLine(generation, event));
    runner.on('exit', (event) => this.#onExit(generation, event));
    this.#log.info({ command, args: invocation.args, mode: options.mode }, 'starting cloudflared');

    const outcome = new Promise<TunnelStatus>((resolve, reject) => (this.#firstOutcome = { resolve, reject }));
    runner.start();
    return outcome;
  }

  /** Stops cloudflared; the state becomes off. Safe to call at any time. */
  async stop(): Promise<void> {
    this.#generation++;
    this.#stopHealthPolls();
    this.#spawnAbort?.abort();
    const runner = this.#runner;
    this.#runner = undefined;
    this.#rejectFirst(new Error('tunnel stopped before it was online'));
    if (runner) {
      try {
        await runner.stop('tunnel stopped');
      } finally {
        runner.removeAllListeners();
      }
    }
    this.#lineListeners.clear();
    this.#metricsUrl = undefined;
    if (this.#status.state !== 'off') this.#update({ state: 'off', mode: null, publicUrl: null, lastError: null, degradedReason: undefined });
  }

  /**
   * For resume from sleep (and any time the caller doubts the tunnel): asks /ready; a cloudflared
   * that does not answer, or stays without an edge connection past the grace, is restarted. The
   * restart gives a quick tunnel a new URL ('url' fires).
   */
  async checkAlive(): Promise<'off' | 'alive' | 'restarted'> {
    const runner = this.#runner;
    const metricsUrl = this.#metricsUrl;
    if (!runner || !metricsUrl) return 'off';
    if (this.#status.state === 'starting') return 'alive';
    const generation = this.#generation;
    const first = await fetchReadiness(metricsUrl);
    if (first?.ready) {
      if (generation === this.#generation) this.#update({ state: 'online', lastError: null });
      return 'alive';
    }
    if (first) {
      // Alive but disconnected: after a sleep cloudflared usually reconnects by itself within seconds.
      try {
        await waitForReady({ metricsUrl, timeoutMs: this.#options.reconnectGraceMs ?? 10_000, pollMs: 250 });
        if (generation === this.#generation) this.#update({ state: 'online', lastError: null });
        return 'alive';
      } catch {
        // fall through to a restart
      }
    }
    if (generation !== this.#generation || this.#runner !== runner) return 'off';
    await this.#restart(runner, first ? 'no edge connection after resume' : 'metrics server not answering');
    return 'restarted';
  }

  async #restart(runner: Supervisor, reason: string): Promise<void> {
    this.#log.warn({ reason }, 'restarting cloudflared');
    this.#stopHealthPolls();
    this.#update({ state: 'starting', lastError: reason });
    await runner.restart(reason);
  }

  #onSpawn(generation: number, pid: number | undefined): void {
    if (generation !== this.#generation) return;
    this.#lines = [];
    this.#log.debug({ pid }, 'cloudflared spawned');
    if (this.#status.state !== 'starting') this.#update({ state: 'starting' });
  }

  #onLine(generation: number, { line, stream }: LogEvent): void {
    // The supervisor's own notes ('starting → online: …') share the stream; they are not cloudflared's words.
    if (generation !== this.#generation || stream === 'supervisor') return;
    this.#lines.push(line);
    if (this.#lines.length > KEPT_LINES) this.#lines.shift();
    this.#log.debug({ line }, 'cloudflared');
    this.emit('log', line);
    for (const listener of this.#lineListeners) listener(line);
  }

  #lineSource: LineSource = (listener) => {
    for (const line of this.#lines) listener(line);
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  };

  #onExit(generation: number, { code, signal, expected }: ExitEvent): void {
    if (generation !== this.#generation) return;
    this.#spawnAbort?.abort();
    this.#stopHealthPolls();
    // Expected exits were asked for (stop, restart, failed readiness, memory): their cause is already reported.
    if (expected) return;
    const message = describeExit(code, signal, this.#lines.at(-1));
    this.#log.warn({ code, signal }, 'cloudflared exited');
    this.#fail(generation, new Error(message));
  }

  /** The supervisor's readiness check, run after every spawn: learn the URL, wait for the edge. */
  async #awaitTunnel(generation: number, mode: TunnelMode, runSignal: AbortSignal): Promise<void> {
    const metricsUrl = this.#metricsUrl;
    if (generation !== this.#generation || !metricsUrl) throw new Error('superseded');
    // One abort per spawn: #onExit and stop() end this wait when the child it belongs to is gone.
    this.#spawnAbort?.abort();
    const controller = new AbortController();
    this.#spawnAbort = controller;
    const signal = AbortSignal.any([controller.signal, runSignal]);
    const timeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    try {
      const publicUrl =
        mode === 'quick' ? await waitForQuickTunnelUrl({ metricsUrl, timeoutMs, signal, lines: this.#lineSource }) : this.#namedUrl;
      await waitForReady({ metricsUrl, timeoutMs: Math.max(0, deadline - Date.now()), signal, lines: this.#lineSource });
      if (generation !== this.#generation || signal.aborted) throw new Error('superseded');
      const previous = this.#status.publicUrl;
      this.#update({ state: 'online', publicUrl, lastError: null });
      if (publicUrl && publicUrl !== previous) this.emit('url', publicUrl, previous);
      this.#log.info({ publicUrl }, 'tunnel online');
      this.#startHealthPolls(generation);
      const first = this.#firstOutcome;
      this.#firstOutcome = undefined;
      first?.resolve(this.state());
    } catch (error) {
      // An abort means the child exited or we stopped: #onExit/stop already said why.
      if (!signal.aborted) this.#fail(generation, error as Error);
      throw error;
    }
  }

  #fail(generation: number, error: Error): void {
    if (generation !== this.#generation) return;
    this.#update({ state: 'down', lastError: error.message });
    this.#rejectFirst(error);
  }

  #rejectFirst(error: Error): void {
    const first = this.#firstOutcome;
    this.#firstOutcome = undefined;
    first?.reject(error);
  }

  #startHealthPolls(generation: number): void {
    const interval = this.#options.healthIntervalMs ?? 15_000;
    this.#stopHealthPolls();
    if (interval <= 0) return;
    this.#unansweredPolls = 0;
    this.#healthTimer = setInterval(() => void this.#poll(generation), interval);
    this.#healthTimer.unref();
  }

  #stopHealthPolls(): void {
    clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
  }

  async #poll(generation: number): Promise<void> {
    const metricsUrl = this.#metricsUrl;
    const runner = this.#runner;
    if (!metricsUrl || !runner) return;
    const readiness = await fetchReadiness(metricsUrl);
    if (generation !== this.#generation || this.#status.state === 'starting' || this.#status.state === 'down') return;
    if (!readiness) {
      if (++this.#unansweredPolls >= WEDGED_AFTER_POLLS) await this.#restart(runner, 'metrics server stopped answering');
      return;
    }
    this.#unansweredPolls = 0;
    if (readiness.ready) {
      if (this.#status.state !== 'online') this.#update({ state: 'online', lastError: null });
    } else if (this.#status.state !== 'degraded') {
      this.#update({ state: 'degraded', lastError: "cloudflared is running but has no connection to Cloudflare's edge" });
    }
  }

  #update(patch: Partial<TunnelStatus>): void {
    const next = { ...this.#status, ...patch };
    if (next.degradedReason === undefined) delete next.degradedReason;
    const changed = (Object.keys(next) as (keyof TunnelStatus)[]).some((key) => next[key] !== this.#status[key]) ||
      Object.keys(next).length !== Object.keys(this.#status).length;
    this.#status = next;
    if (changed) this.emit('state', this.state());
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, lastLine: string | undefined): string {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const hint =
    code === 11
      ? ' (cloudflared updated itself and exited: it must run with --no-autoupdate)'
      : '';
  return `cloudflared ${how}${hint}${lastLine ? `. Last log line: ${lastLine.trim()}` : ''}`;
}
