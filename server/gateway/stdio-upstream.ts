import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import { Supervisor, type SupervisorInfo } from '../supervision/supervisor.ts';
import { LineDecoder } from './line-decoder.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
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
  log: Logger;
  /** Test hook: faster memory sampling. */
  memorySampleMs?: number;
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
  #decoder = new LineDecoder();
  #outbox: string[] = [];
  onMessage: (message: JsonRpcMessage) => void = () => {};
  onDown: (reason: string, planned: boolean) => void = () => {};
  onUp: () => void = () => {};

  constructor(options: StdioUpstreamOptions) {
    this.name = options.name;
    this.#log = options.log;
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
      log: options.logDir ? { file: join(options.logDir, `${safeFileName(options.name)}.log`) } : {},
      logger: options.log,
    });
    this.supervisor.on('spawn', (child) => {
      this.#decoder = new LineDecoder();
      this.#outbox = []; // nothing meant for the previous child reaches its successor
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => this.#onStdout(chunk));
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
  send(message: JsonRpcMessage): void {
    this.#outbox.push(JSON.stringify(message));
    if (this.#outbox.length === 1) setImmediate(() => this.#flush());
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

  #onStdout(chunk: string): void {
    for (const line of this.#decoder.push(chunk)) {
      let message: JsonRpcMessage;
      try {
        message = JSON.parse(line) as JsonRpcMessage;
      } catch {
        this.#log.warn({ server: this.name, line: line.slice(0, 200) }, 'upstream wrote a non-JSON line to stdout');
        continue;
      }
      this.onMessage(message);
    }
  }
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
