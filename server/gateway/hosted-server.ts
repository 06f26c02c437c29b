import type { Logger } from '../logger.ts';
import type { LivenessOptions } from './liveness-probe.ts';
import type { SupervisorInfo } from '../supervision/supervisor.ts';
import type { ClientPeer } from './client-peer.ts';
import { ErrorCode, errorResponse, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.ts';
import type { Upstream } from './upstream.ts';
import type { ToolResultCache } from './tool-cache.ts';
import { UpstreamRouter, type CallEvent } from './upstream-router.ts';

export type ServerMode = 'shared' | 'serial' | 'isolated';

export interface HostedServerOptions {
  name: string;
  mode: ServerMode;
  /** Upper bound on upstream processes in isolated mode. */
  maxIsolated: number;
  requestTimeoutMs: number;
  createUpstream: () => Upstream;
  log: Logger;
  onCallDone?: (server: string, event: CallEvent) => void;
  toolCache?: ToolResultCache | undefined;
  /** Intervals of the frozen-server probe (tests shorten them). */
  liveness?: Partial<LivenessOptions> | undefined;
  /** Restarts an upstream the probe found frozen; without it a frozen server is only reported. */
  restartUpstream?: (upstream: Upstream, reason: string) => void;
}

export interface HostedServerStatus {
  name: string;
  mode: ServerMode;
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
}

/** One entry of `mcpServers` as served at /mcp/<name>: picks the router each session talks through. */
export class HostedServer {
  readonly name: string;
  readonly mode: ServerMode;
  readonly #options: HostedServerOptions;
  #shared: UpstreamRouter | null = null;
  readonly #routers = new Map<ClientPeer, UpstreamRouter>();

  constructor(options: HostedServerOptions) {
    this.name = options.name;
    this.mode = options.mode;
    this.#options = options;
  }

  /** Starts the shared upstream ahead of the first client, so its first call is not slowed by a spawn. */
  async warmUp(): Promise<void> {
    if (this.mode === 'isolated') return;
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
    } else router = this.#sharedRouter();
    this.#routers.set(session, router);
    const response = await router.initialize(session, initialize);
    if (response.error) await this.closeSession(session);
    return response;
  }

  message(session: ClientPeer, message: JsonRpcMessage): void {
    const router = this.#routers.get(session);
    if (router) router.fromClient(session, message);
    else if ('id' in message && 'method' in message) {
      session.deliver(errorResponse(message.id, ErrorCode.InvalidRequest, 'session is not initialised'), message.id);
    }
  }

  async closeSession(session: ClientPeer): Promise<void> {
    const router = this.#routers.get(session);
    if (!router) return;
    this.#routers.delete(session);
    router.detach(session);
    if (this.mode === 'isolated') await router.close();
  }

  status(): HostedServerStatus {
    const routers = new Set(this.#routers.values());
    if (this.#shared) routers.add(this.#shared);
    return {
      name: this.name,
      mode: this.mode,
      sessions: this.#routers.size,
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

  /** The shared upstream (not for isolated mode, where each session has its own). */
  sharedUpstream(): Upstream {
    return this.#sharedRouter().upstream;
  }

  async close(): Promise<void> {
    const routers = new Set(this.#routers.values());
    if (this.#shared) routers.add(this.#shared);
    this.#routers.clear();
    this.#shared = null;
    await Promise.all([...routers].map((r) => r.close()));
  }

  #sharedRouter(): UpstreamRouter {
    this.#shared ??= this.#newRouter(false);
    return this.#shared;
  }

  #newRouter(ownedBySession: boolean): UpstreamRouter {
    const onCallDone = this.#options.onCallDone;
    const upstream = this.#options.createUpstream();
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
      ...(onCallDone ? { onCallDone: (event: CallEvent) => onCallDone(this.name, event) } : {}),
    });
  }
}
