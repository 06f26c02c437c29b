import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';

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

/**
 * Bytes a stream may hold unsent (in the response and its socket) before its reader counts as gone.
 * Far above what a reading client ever leaves behind (one event, one replay of the session's bounded
 * event store); far below what a stalled one would make the host keep. Must exceed the event store's
 * byte bound, or a resumption's replay would trip it (host-server.ts keeps that so).
 */
export const DEFAULT_MAX_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;

export interface SseStreamOptions {
  heartbeat: Heartbeat;
  /** Past this many unsent bytes the stream is dropped (default DEFAULT_MAX_STREAM_BUFFER_BYTES). */
  maxBufferedBytes?: number | undefined;
  /** Where a dropped stream is reported. */
  log?: Logger | undefined;
  headers?: Record<string, string>;
  /** First event: an id with empty data (2025-11-25 priming, makes the stream resumable) or just a comment. */
  primingEventId?: string | undefined;
  onClose?: () => void;
}

/**
 * One open `text/event-stream` response. The first byte goes out at once so no proxy waits on us.
 *
 * Back-pressure: `res.write` queues whatever the socket cannot take, without limit. A client that
 * stops reading would make the host keep every event for it, so once more than `maxBufferedBytes`
 * wait unsent the response is destroyed instead. Nothing is lost that could be kept: the session's
 * bounded event store still has the events, and the client resumes with `Last-Event-ID`. (Pausing
 * the producer instead is not possible: one upstream serves many sessions, and the slow one must
 * not slow the rest.)
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #stopBeat: () => void;
  readonly #maxBuffered: number;
  readonly #log: Logger | undefined;
  #closed = false;
  #dropped = false;
  onClose: (() => void) | undefined;

  constructor(res: ServerResponse, options: SseStreamOptions) {
    this.#res = res;
    this.onClose = options.onClose;
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_STREAM_BUFFER_BYTES;
    this.#log = options.log;
    res.writeHead(200, { ...SSE_HEADERS, ...options.headers });
    if (options.primingEventId !== undefined) res.write(`id: ${options.primingEventId}\ndata: \n\n`);
    else res.write(': stream open\n\n');
    this.#stopBeat = options.heartbeat.add(() => {
      if (!this.#closed) this.#write(': keep-alive\n\n');
    });
    res.once('close', () => this.#markClosed());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The stream was dropped because its reader fell too far behind. */
  get dropped(): boolean {
    return this.#dropped;
  }

  /** Writes one event; returns false if the stream is gone. */
  send(data: string, options: { id?: string; event?: string } = {}): boolean {
    if (this.#closed) return false;
    let frame = '';
    if (options.event) frame += `event: ${options.event}\n`;
    if (options.id) frame += `id: ${options.id}\n`;
    frame += `data: ${data}\n\n`;
    return this.#write(frame);
  }

  end(): void {
    if (this.#closed) return;
    this.#res.end();
    this.#markClosed();
  }

  #write(frame: string): boolean {
    this.#res.write(frame);
    const buffered = this.#res.writableLength;
    if (buffered <= this.#maxBuffered) return true;
    this.#dropped = true;
    this.#log?.warn({ bufferedBytes: buffered, limitBytes: this.#maxBuffered }, 'dropped a stream whose client stopped reading (it can resume with Last-Event-ID)');
    this.#res.destroy();
    this.#markClosed();
    return false;
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopBeat();
    this.onClose?.();
  }
}
