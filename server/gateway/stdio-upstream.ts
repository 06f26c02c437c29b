import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import type { LogLine, RotatingLog } from '../supervision/rotating-log.ts';
import { Supervisor, type SupervisorInfo } from '../supervision/supervisor.ts';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, type DecodedLine } from './line-decoder.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { rateLimitedWarning } from './rate-limited-warning.ts';
import { readOversizedLine, readUpstreamLine, type UnreadableLine } from './upstream-line.ts';
import type { Upstream } from './upstream.ts';

export interface StdioUpstreamOptions {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  memoryLimitBytes: number;
  maxCrashes: number;
  windowMs: number;
  /** Folder for `<name>.log`; none keeps only the in-memory tail. */
  logDir?: string | undefined;
  /** Which copy of a pooled server this is: copies after the first log to `<name>@<copy>.log` (no server name holds an @). */
  copy?: number;
  /**
   * A log several upstreams write through (an isolated server's session processes: one file, one
   * writer, so they neither interleave inside a line nor rotate it under each other); its owner closes it.
   * Instead of `logDir`.
   */
  sharedLog?: RotatingLog;
  log: Logger;
  /** Longest stdout line accepted; the rest of a longer one is dropped as it streams. */
  maxLineBytes?: number;
  /** Test hook: faster memory sampling. */
  memorySampleMs?: number;
  /** Clock of the rate-limited warnings about refused lines. */
  now?: () => number;
}

/**
 * A stdio MCP server kept alive by a Supervisor: restarts with backoff, memory watchdog, whole-tree
 * kill. The router above hears `onDown` when the child dies (calls in flight fail at once) and
 * `onUp` when its successor is online (re-initialised transparently).
 */
export class StdioUpstream implements Upstream {
  readonly name: string;
  readonly supervisor: Supervisor;
  readonly #log: Logger;
  readonly #maxLineBytes: number;
  readonly #warn: (fields: object, message: string) => void;
  #decoder: LineDecoder;
  /** The head of the oversized line streaming past, until its end; whether its call was answered already. */
  #oversized: { head: string; reported: boolean } | null = null;
  #outbox: string[] = [];
  onMessage: (message: JsonRpcMessage) => void = () => {};
  onUnreadable: (line: UnreadableLine) => void = () => {};
  onDown: (reason: string, planned: boolean) => void = () => {};
  onUp: () => void = () => {};

  constructor(options: StdioUpstreamOptions) {
    this.name = options.name;
    this.#log = options.log;
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#decoder = new LineDecoder(this.#maxLineBytes);
    this.#warn = rateLimitedWarning(options.log, options.now ? { now: options.now } : {});
    this.supervisor = new Supervisor({
      name: options.name,
      command: options.command,
      args: options.args,
      env: options.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      captureStdout: false,
      ready: 'spawn',
      maxCrashes: options.maxCrashes,
      windowMs: options.windowMs,
      memory: { limitBytes: options.memoryLimitBytes, ...(options.memorySampleMs ? { sampleMs: options.memorySampleMs } : {}) },
      log: options.sharedLog ?? (options.logDir ? { file: join(options.logDir, logFileName(options.name, options.copy ?? 0)) } : {}),
      logger: options.log,
    });
    this.supervisor.on('spawn', (child) => {
      this.#decoder = new LineDecoder(this.#maxLineBytes);
      this.#oversized = null;
      this.#outbox = []; // nothing meant for the previous child reaches its successor
      child.stdout?.on('data', (chunk: Buffer) => this.#onStdout(chunk));
      child.stdin?.on('error', () => {}); // a dead child's pipe; the exit event tells the story
    });
    this.supervisor.on('state', (event) => {
      if (event.to === 'online') this.onUp();
    });
    this.supervisor.on('exit', (event) =>
      this.onDown(event.expected ? `was restarted (${event.reason})` : `crashed (${event.reason})`, event.expected),
    );
  }

  get up(): boolean {
    return this.supervisor.state === 'online' && this.supervisor.stdin !== null;
  }

  get pid(): number | undefined {
    return this.supervisor.pid ?? undefined;
  }

  info(): SupervisorInfo {
    return this.supervisor.info();
  }

  logTail(lines: number): LogLine[] {
    return this.supervisor.log.tail(lines);
  }

  restart(reason: string): Promise<void> {
    return this.supervisor.restart(reason);
  }

  /** Starts the child if it is not running, and waits until it (or its restarted successor) is online. */
  start(timeoutMs = 60_000): Promise<void> {
    const supervisor = this.supervisor;
    if (supervisor.state === 'stopped') supervisor.start();
    if (this.up) return Promise.resolve();
    if (supervisor.state === 'errored') return Promise.reject(new Error(supervisor.info().lastError ?? 'crash loop'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`not online after ${Math.round(timeoutMs / 1000)}s`)), timeoutMs);
      const onState = () => {
        if (this.up) finish();
        else if (supervisor.state === 'errored') finish(new Error(supervisor.info().lastError ?? 'crash loop'));
        else if (supervisor.state === 'stopped') finish(new Error('stopped'));
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        supervisor.off('state', onState);
        if (error) reject(error);
        else resolve();
      };
      supervisor.on('state', onState);
    });
  }

  /**
   * Messages of one event-loop turn go to the child in one write: a write per message was the
   * largest single cost of the host under load (a system call, and a wake-up of the child, each).
   */
  send(message: JsonRpcMessage): string | undefined {
    let line: string;
    try {
      line = JSON.stringify(message);
    } catch (error) {
      // A client's params nested too deep to serialise (RangeError), or a BigInt: refused, never thrown
      // from here (this runs inside other messages' handlers: a throw would take the host down).
      return error instanceof RangeError ? 'the message is nested too deeply to forward' : `the message cannot be serialised (${(error as Error).message})`;
    }
    this.#outbox.push(line);
    if (this.#outbox.length === 1) setImmediate(() => this.#flush());
    return undefined;
  }

  #flush(): void {
    if (this.#outbox.length === 0) return;
    const lines = this.#outbox.join('\n') + '\n';
    this.#outbox = [];
    this.supervisor.stdin?.write(lines);
  }

  async close(): Promise<void> {
    await this.supervisor.dispose();
  }

  #onStdout(chunk: Buffer): void {
    for (const item of this.#decoder.push(chunk)) {
      if (item.kind === 'line') this.#onLine(item.text);
      else this.#onOversized(item);
    }
  }

  #onLine(text: string): void {
    const line = readUpstreamLine(text);
    if (line.ok) this.onMessage(line.message);
    else this.#refuse(line, text.slice(0, 200));
  }

  /** A line over maxLineBytes: its caller is answered as soon as its id is known (head, else tail). */
  #onOversized(item: Exclude<DecodedLine, { kind: 'line' }>): void {
    if (item.kind === 'oversized') {
      const early = readOversizedLine(item.head, '', this.#maxLineBytes);
      this.#oversized = { head: item.head, reported: early.id !== undefined };
      if (early.id !== undefined) this.#refuse(early, item.head.slice(0, 200));
      return;
    }
    const oversized = this.#oversized;
    this.#oversized = null;
    if (!oversized || oversized.reported) return;
    this.#refuse(readOversizedLine(oversized.head, item.tail, this.#maxLineBytes), oversized.head.slice(0, 200), item.bytes);
  }

  #refuse(line: UnreadableLine, start: string, bytes?: number): void {
    this.#warn({ server: this.name, reason: line.reason, id: line.id, start, ...(bytes ? { bytes } : {}) }, 'upstream wrote a line Harbor refused; dropped');
    this.onUnreadable(line);
  }
}

/**
 * The log files Harbor's own processes write beside the servers' (harbor-home.ts hostLog, serve.ts,
 * the shell's logging.ts), lower-cased: a file system may not tell `Host.log` from `host.log`.
 */
const HARBOR_OWN_LOGS = new Set(['host', 'harbor', 'main', 'main.old']);

/**
 * Each copy its own file: two supervisors appending to and rotating one file would interleave and lose
 * lines. Copy 0 is `<name>.log`, or `<name>@0.log` for a server named like one of Harbor's own logs
 * (a server called "host" must not write into the host's log); no server name holds an @.
 */
export function logFileName(name: string, copy: number): string {
  const file = safeFileName(name);
  return `${file}${copy > 0 || HARBOR_OWN_LOGS.has(file.toLowerCase()) ? `@${copy}` : ''}.log`;
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
