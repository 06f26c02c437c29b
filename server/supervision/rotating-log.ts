import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The stream a line came from: the child's stdout or stderr, or the supervisor's own notes about it. */
export type LogStream = 'stdout' | 'stderr' | 'supervisor';

export interface LogLine {
  at: number;
  stream: LogStream;
  line: string;
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
}

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

  constructor(options: RotatingLogOptions = {}) {
    this.file = options.file;
    this.maxBytes = Math.max(256, options.maxBytes ?? 1024 * 1024);
    this.files = Math.max(1, Math.floor(options.files ?? 3));
    this.tailLines = Math.max(1, Math.floor(options.tailLines ?? 200));
    this.maxPendingBytes = options.maxPendingBytes ?? 4 * 1024 * 1024;
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
    this.#flushing ??= this.#flush();
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

  /** The error that stopped file writing, if any (the tail keeps working). */
  get error(): Error | null {
    return this.#failed;
  }

  /** Resolves once everything written so far is on disk. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async close(): Promise<void> {
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

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#failed) {
        if (this.#dropped > 0) {
          const note = `${new Date().toISOString()} supervisor [${this.#dropped} lines dropped: disk too slow]\n`;
          this.#pending.unshift(note);
          this.#pendingBytes += Buffer.byteLength(note);
          this.#dropped = 0;
        }
        await this.#open(); // the current size decides how much of the batch still fits
        const batch = this.#takeBatch();
        await this.#append(batch);
      }
    } catch (error) {
      // A full or read-only disk must not take the supervisor down; the in-memory tail keeps the recent lines.
      this.#failed = error as Error;
      this.#pending = [];
      this.#pendingBytes = 0;
    } finally {
      this.#flushing = null;
    }
  }

  /** Pending lines up to what still fits in the current file (at least one line, so a rotation always makes room). */
  #takeBatch(): string {
    let text = '';
    let bytes = 0;
    const room = Math.max(0, this.maxBytes - this.#size);
    while (this.#pending.length > 0) {
      const next = this.#pending[0] as string;
      const size = Buffer.byteLength(next);
      if (text.length > 0 && bytes + size > room) break;
      text += next;
      bytes += size;
      this.#pending.shift();
      this.#pendingBytes -= size;
      if (bytes > room) break;
    }
    return text;
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
