import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { backoffDelay, logRetryDelay } from './backoff.ts';

/** The stream a line came from: the child's stdout or stderr, or the supervisor's own notes about it. */
export type LogStream = 'stdout' | 'stderr' | 'supervisor';

export interface LogLine {
  at: number;
  stream: LogStream;
  line: string;
  /** Which copy of a pooled server wrote it (HostedServer.logTail sets it when there are several). */
  copy?: number;
}

export interface RotatingLogOptions {
  /** `<dir>/<name>.log`; older files become `.log.1`, `.log.2` … Without a file only the in-memory tail is kept. */
  file?: string;
  /** Size at which the current file is rotated. Default 1 MiB. */
  maxBytes?: number;
  /** Files kept in all, the current one included. Default 3. */
  files?: number;
  /** Lines kept in memory for the UI. Default 200. */
  tailLines?: number;
  /**
   * Bytes allowed to wait for the disk; beyond it lines are dropped (and the drop is noted in the file) rather
   * than buffered without bound behind a slow disk. Default 4 MiB.
   */
  maxPendingBytes?: number;
  /** Epoch milliseconds, for the retry delay after a failed write. */
  now?: () => number;
}

/*
 * After a failed write (ENOSPC, EIO, a vanished folder) the file is tried again after logRetryDelay
 * (backoff.ts), growing while it keeps failing. Lines written in between wait in memory (within
 * maxPendingBytes) for that retry, which an unref'd timer makes when no later line does: a line logged once,
 * right after space returned (say "audit backlog written"), used to be dropped for falling inside the delay,
 * and nothing brought it back. Dropped are the lines waiting when a write fails (a retry included: keeping
 * them across failures would hold maxPendingBytes per log for as long as the disk stays full) and those
 * beyond the bound; their count is the first thing written once the disk takes lines again. The timer asks
 * the injectable clock whether the delay has passed, so a test with its own clock decides when the retry
 * comes (a clock that never moves only re-arms the unref'd timer until close).
 */

/**
 * Captured output of one supervised process: appended to a size-rotated file (bounded on disk: `files × maxBytes`)
 * and to a ring buffer of the last lines (bounded in memory) that the UI shows. Writes are asynchronous and
 * serialized, so a chatty child never blocks the host's event loop.
 */
export class RotatingLog {
  readonly file: string | undefined;
  readonly maxBytes: number;
  readonly files: number;
  readonly tailLines: number;
  readonly maxPendingBytes: number;

  #ring: LogLine[] = [];
  #ringStart = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #dropped = 0;
  #handle: FileHandle | null = null;
  #size = 0;
  #flushing: Promise<void> | null = null;
  #closed = false;
  #failed: Error | null = null;
  /** Consecutive failed attempts, and when the next one may be made. */
  #failures = 0;
  #retryAt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #dropReason = 'disk too slow';
  readonly #now: () => number;

  constructor(options: RotatingLogOptions = {}) {
    this.file = options.file;
    this.maxBytes = Math.max(256, options.maxBytes ?? 1024 * 1024);
    this.files = Math.max(1, Math.floor(options.files ?? 3));
    this.tailLines = Math.max(1, Math.floor(options.tailLines ?? 200));
    this.maxPendingBytes = options.maxPendingBytes ?? 4 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  write(line: string, stream: LogStream = 'stdout', at: number = Date.now()): void {
    this.#remember({ at, stream, line });
    if (this.file === undefined || this.#closed) return;
    const text = clip(`${new Date(at).toISOString()} ${stream} ${line}`, this.maxBytes - 64) + '\n';
    const bytes = Buffer.byteLength(text);
    if (this.#pendingBytes + bytes > this.maxPendingBytes) {
      this.#dropped += 1;
      return;
    }
    this.#pending.push(text);
    this.#pendingBytes += bytes;
    if (this.#waitingToRetry()) this.#scheduleRetry();
    else this.#kick();
  }

  /** The last `n` lines (all kept lines when `n` is absent), oldest first. */
  tail(n: number = this.tailLines): LogLine[] {
    const ordered = this.#ring.length < this.tailLines
      ? this.#ring.slice()
      : [...this.#ring.slice(this.#ringStart), ...this.#ring.slice(0, this.#ringStart)];
    return n >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, n));
  }

  /** Paths of the files that make up the log, newest first (some may not exist yet). */
  paths(): string[] {
    if (this.file === undefined) return [];
    return Array.from({ length: this.files }, (_, i) => (i === 0 ? this.file as string : `${this.file}.${i}`));
  }

  /** The error of the last failed write while writing is failing; null once a write worked again. */
  get error(): Error | null {
    return this.#failed;
  }

  /** Lines dropped since the last note about drops reached the file. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Resolves once everything written so far is on disk, or waits in memory for a retry after a failed write. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Writes what is pending, one last attempt even within a retry delay, and closes the file. */
  async close(): Promise<void> {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#pending.length > 0) this.#kick();
    await this.flush();
    this.#closed = true;
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }

  #remember(entry: LogLine): void {
    if (this.#ring.length < this.tailLines) {
      this.#ring.push(entry);
      return;
    }
    this.#ring[this.#ringStart] = entry;
    this.#ringStart = (this.#ringStart + 1) % this.tailLines;
  }

  #waitingToRetry(): boolean {
    return this.#failed !== null && this.#now() < this.#retryAt;
  }

  /** One timer at a time; it drains once the delay has passed by the clock, else waits for the rest of it. */
  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    const wait = Math.max(1, this.#retryAt - this.#now());
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#pending.length === 0 || this.#closed) return;
      if (this.#waitingToRetry()) this.#scheduleRetry();
      else this.#kick();
    }, wait);
    this.#retryTimer.unref();
  }

  /**
   * Starts draining unless a drain runs. The promise is stored before it can settle (`finally` runs
   * asynchronously): storing the result of an async function that finished synchronously once left a
   * settled promise here for good, and `flush()` spun on it at 100 % CPU.
   */
  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
    });
  }

  async #drain(): Promise<void> {
    let inFlight = 0;
    try {
      while (this.#pending.length > 0) {
        await this.#open(); // the current size decides how much of the batch still fits
        const noted = this.#dropped;
        const note = noted > 0 ? `${new Date(this.#now()).toISOString()} supervisor [${noted} lines dropped: ${this.#dropReason}]\n` : '';
        const batch = this.#takeBatch();
        inFlight = batch.lines;
        await this.#append(note + batch.text);
        inFlight = 0;
        this.#dropped -= noted;
        this.#failed = null;
        this.#failures = 0;
        this.#dropReason = 'disk too slow';
      }
    } catch (error) {
      // A full or read-only disk must not take the supervisor down; the in-memory tail keeps the recent lines.
      // What waited is dropped and counted (the batch in flight may be partly written), and the file is
      // reopened on the next attempt: space may come back, or the file may have been removed.
      this.#failed = error as Error;
      this.#dropReason = `write failed, ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      this.#dropped += inFlight + this.#pending.length;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#retryAt = this.#now() + backoffDelay(this.#failures++, logRetryDelay);
      const handle = this.#handle;
      this.#handle = null;
      await handle?.close().catch(() => {});
    }
  }

  /** Pending lines up to what still fits in the current file (at least one line, so a rotation always makes room). */
  #takeBatch(): { text: string; lines: number } {
    let text = '';
    let bytes = 0;
    let lines = 0;
    const room = Math.max(0, this.maxBytes - this.#size);
    while (this.#pending.length > 0) {
      const next = this.#pending[0] as string;
      const size = Buffer.byteLength(next);
      if (text.length > 0 && bytes + size > room) break;
      text += next;
      bytes += size;
      lines++;
      this.#pending.shift();
      this.#pendingBytes -= size;
      if (bytes > room) break;
    }
    return { text, lines };
  }

  async #append(text: string): Promise<void> {
    const bytes = Buffer.byteLength(text);
    await this.#open();
    if (this.#size > 0 && this.#size + bytes > this.maxBytes) await this.#rotate();
    await (this.#handle as FileHandle).appendFile(text);
    this.#size += bytes;
  }

  async #open(): Promise<void> {
    if (this.#handle) return;
    const file = this.file as string;
    await mkdir(dirname(file), { recursive: true });
    this.#handle = await open(file, 'a');
    this.#size = (await stat(file)).size;
  }

  async #rotate(): Promise<void> {
    await this.#handle?.close();
    this.#handle = null;
    const paths = this.paths();
    await rm(paths[paths.length - 1] as string, { force: true });
    for (let i = paths.length - 2; i >= 0; i--) {
      await rename(paths[i] as string, paths[i + 1] as string).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    await this.#open();
  }
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, so one huge line cannot exceed a file's size bound. */
function clip(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD+$/, '');
}
