import { ErrorCode, errorResponse, type JsonRpcMessage, type JsonRpcResponse } from './jsonrpc.ts';
import { scheduleUnref, type Schedule } from './unref-timer.ts';

export interface OwnRequestsOptions {
  /** Ids from the router's id space, so an answer is told apart from a client call's. */
  nextId: () => number;
  /** Writes to the upstream; returns why a message was refused (see Upstream.send). */
  send: (message: JsonRpcMessage) => string | undefined;
  schedule?: Schedule;
}

interface Pending {
  resolve: (response: JsonRpcResponse) => void;
  cancelTimer: () => void;
}

/**
 * Harbor's own requests to an upstream (initialize, ping, tools/list, resources/subscribe and
 * unsubscribe): answered by id, never seen by a client. Each resolves with the upstream's answer (an
 * error answer included), or with an error response when it was refused or the upstream went away;
 * it rejects only when no answer came in time.
 */
export class OwnRequests {
  readonly #pending = new Map<number, Pending>();
  readonly #options: OwnRequestsOptions;
  readonly #schedule: Schedule;

  constructor(options: OwnRequestsOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? scheduleUnref;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Ids of the requests waiting for an answer, oldest first. */
  ids(): number[] {
    return [...this.#pending.keys()];
  }

  send(method: string, params: Record<string, unknown>, timeoutMs = 30_000): Promise<JsonRpcResponse> {
    const id = this.#options.nextId();
    return new Promise((resolve, reject) => {
      const cancelTimer = this.#schedule(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out after ${Math.round(timeoutMs / 1000)}s`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, cancelTimer });
      const refused = this.#options.send({ jsonrpc: '2.0', id, method, params });
      if (refused) this.settle(id, errorResponse(id, ErrorCode.InternalError, refused));
    });
  }

  /** An answer from the upstream (or one made for it): true when it was to one of these requests. */
  settle(id: number, response: JsonRpcResponse): boolean {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    this.#pending.delete(id);
    pending.cancelTimer();
    pending.resolve(response);
    return true;
  }

  /** The upstream went away: every request waiting gets an error answer with the reason. */
  failAll(reason: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { resolve, cancelTimer } of pending) {
      cancelTimer();
      resolve(errorResponse(null, ErrorCode.UpstreamUnavailable, reason));
    }
  }
}
