import { AdminUnavailableError } from './admin-api.ts';

/**
 * Requests from the host child to its supervisor (share start/stop: the supervisor runs cloudflared),
 * each waiting for its reply by id. Every wait ends: with the reply, when the supervisor hangs up
 * (all pending are rejected, later asks fail at once), or after `replyTimeoutMs` — so an admin call
 * never hangs on a parent that is gone. The rejections are AdminUnavailableError: the admin API
 * answers them 503.
 */
export class SupervisorRequests<Reply> {
  readonly #replyTimeoutMs: number;
  readonly #waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #gone: string | null = null;

  constructor(options: { replyTimeoutMs?: number } = {}) {
    // Starting a tunnel waits for cloudflared's first connection (up to ~30 s on a slow network).
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 60_000;
  }

  get pending(): number {
    return this.#waiting.size;
  }

  /** `send` posts the request under its id; it may throw when the channel is already closed. */
  ask(describe: string, send: (id: number) => void): Promise<Reply> {
    if (this.#gone) return Promise.reject(new AdminUnavailableError(`cannot ${describe}: ${this.#gone}`));
    const id = this.#nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(id, new AdminUnavailableError(`cannot ${describe}: the supervisor did not answer in ${this.#replyTimeoutMs / 1000} s`)), this.#replyTimeoutMs);
      timer.unref();
      this.#waiting.set(id, { resolve, reject, timer });
      try {
        send(id);
      } catch (error) {
        this.#settle(id, new AdminUnavailableError(`cannot ${describe}: ${(error as Error).message}`));
      }
    });
  }

  /** A reply: a value, or the supervisor's refusal. Unknown ids (already timed out) are ignored. */
  reply(id: number, outcome: { value: Reply } | { error: Error }): void {
    this.#settle(id, 'value' in outcome ? { value: outcome.value } : outcome.error);
  }

  /** The supervisor hung up: nothing pending will be answered, nothing later can be asked. */
  disconnected(reason: string): void {
    this.#gone = reason;
    for (const id of [...this.#waiting.keys()]) this.#settle(id, new AdminUnavailableError(reason));
  }

  #settle(id: number, outcome: { value: Reply } | Error): void {
    const waiter = this.#waiting.get(id);
    if (!waiter) return;
    this.#waiting.delete(id);
    clearTimeout(waiter.timer);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome.value);
  }
}
