import type { CallEvent } from './call-event.ts';
import type { ClientPeer } from './client-peer.ts';
import type { JsonRpcRequest } from './jsonrpc.ts';
import type { ToolResultCache } from './tool-cache.ts';

export interface CachedCallsOptions {
  /** Absent: no tool is cacheable on this server. */
  cache: ToolResultCache | undefined;
  onCallDone?: ((event: CallEvent) => void) | undefined;
  now?: () => number;
}

/**
 * The tool-result cache (tool-cache.ts) in front of one upstream: which `tools/call` may be answered
 * from it, the answer of a hit (the upstream never sees that call), and the answers kept. The router
 * forwards a miss with its key, and keeps the answer when it comes (never an error).
 */
export class CachedCalls {
  readonly #options: CachedCallsOptions;
  readonly #now: () => number;

  constructor(options: CachedCallsOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The key a call is answered from and kept under, or null when it is not a call of a cacheable tool. */
  keyOf(request: JsonRpcRequest): string | null {
    const cache = this.#options.cache;
    if (!cache || request.method !== 'tools/call') return null;
    const tool = request.params!.name as string;
    return cache.cacheable(tool) ? cache.key(tool, request.params?.arguments) : null;
  }

  /**
   * Answers the call from the cache if it holds the result; resolves true when the call is done with
   * (answered, or its session went away meanwhile: `attached`), false on a miss: forward it.
   */
  async answer(session: ClientPeer, request: JsonRpcRequest, key: string, attached: () => boolean): Promise<boolean> {
    const started = this.#now();
    const hit = await this.#options.cache!.get(key);
    if (!attached()) return true;
    if (hit === undefined) return false;
    session.deliver({ jsonrpc: '2.0', id: request.id, result: hit }, request.id);
    const tool = request.params!.name as string;
    this.#options.onCallDone?.({ session, method: request.method, tool, durationMs: this.#now() - started, error: undefined, toolError: false, cached: true });
    return true;
  }

  /** A cacheable call's answer (errors and `isError` results are not kept). */
  keep(key: string, result: unknown): void {
    this.#options.cache?.store(key, result);
  }

  /** A tools/list result passing through: the tools' readOnly annotations may make them cacheable. */
  learn(toolsListResult: unknown): void {
    this.#options.cache?.learn(toolsListResult);
  }
}
