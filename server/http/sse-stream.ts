import type { ServerResponse } from 'node:http';

/**
 * Sends a `: keep-alive` comment on every open stream at a fixed interval, from one timer for all
 * streams: proxies cut a response that stays silent (Cloudflare after 100 s, many LBs after 60 s).
 */
export class Heartbeat {
  readonly intervalMs: number;
  readonly #beats = new Set<() => void>();
  #timer: NodeJS.Timeout | null = null;

  constructor(intervalMs = 15_000) {
    this.intervalMs = intervalMs;
  }

  add(beat: () => void): () => void {
    this.#beats.add(beat);
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        for (const b of this.#beats) b();
      }, this.intervalMs);
      this.#timer.unref();
    }
    return () => {
      this.#beats.delete(beat);
      if (this.#beats.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  get size(): number {
    return this.#beats.size;
  }
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  // no-transform: stops proxies that compress or rewrite from buffering the stream.
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // nginx buffers responses unless told not to.
  'X-Accel-Buffering': 'no',
} as const;

export interface SseStreamOptions {
  heartbeat: Heartbeat;
  headers?: Record<string, string>;
  /** First event: an id with empty data (2025-11-25 priming, makes the stream resumable) or just a comment. */
  primingEventId?: string | undefined;
  onClose?: () => void;
}

/** One open `text/event-stream` response. The first byte goes out at once so no proxy waits on us. */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #stopBeat: () => void;
  #closed = false;
  onClose: (() => void) | undefined;

  constructor(res: ServerResponse, options: SseStreamOptions) {
    this.#res = res;
    this.onClose = options.onClose;
    res.writeHead(200, { ...SSE_HEADERS, ...options.headers });
    if (options.primingEventId !== undefined) res.write(`id: ${options.primingEventId}\ndata: \n\n`);
    else res.write(': stream open\n\n');
    this.#stopBeat = options.heartbeat.add(() => {
      if (!this.#closed) res.write(': keep-alive\n\n');
    });
    res.once('close', () => this.#markClosed());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes one event; returns false if the stream is gone. */
  send(data: string, options: { id?: string; event?: string } = {}): boolean {
    if (this.#closed) return false;
    let frame = '';
    if (options.event) frame += `event: ${options.event}\n`;
    if (options.id) frame += `id: ${options.id}\n`;
    frame += `data: ${data}\n\n`;
    this.#res.write(frame);
    return true;
  }

  end(): void {
    if (this.#closed) return;
    this.#res.end();
    this.#markClosed();
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopBeat();
    this.onClose?.();
  }
}
