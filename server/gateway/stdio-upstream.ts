import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../logger.ts';
import { LineDecoder } from './line-decoder.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import type { Upstream } from './upstream.ts';

export interface StdioUpstreamOptions {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  log: Logger;
}

/** A stdio MCP server as a child process speaking newline-delimited JSON-RPC. */
export class StdioUpstream implements Upstream {
  readonly name: string;
  readonly #options: StdioUpstreamOptions;
  #child: ChildProcessWithoutNullStreams | null = null;
  #closing = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #restarts = 0;
  onMessage: (message: JsonRpcMessage) => void = () => {};
  onDown: (reason: string) => void = () => {};
  onUp: () => void = () => {};

  constructor(options: StdioUpstreamOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get up(): boolean {
    return this.#child !== null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    const { command, args, env, cwd, log } = this.#options;
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group, so stopping reaches the grandchildren npx spawns.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    this.#child = child;
    const decoder = new LineDecoder();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const line of decoder.push(chunk)) {
        let message: JsonRpcMessage;
        try {
          message = JSON.parse(line) as JsonRpcMessage;
        } catch {
          log.warn({ server: this.name, line: line.slice(0, 200) }, 'upstream wrote a non-JSON line to stdout');
          continue;
        }
        this.onMessage(message);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => log.debug({ server: this.name, stderr: chunk.trimEnd() }, 'upstream stderr'));
    child.stdin.on('error', () => {});
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = null;
      const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.onDown(reason);
      if (this.#closing) return;
      log.warn({ server: this.name, code, signal }, 'upstream exited; restarting');
      const delay = Math.min(100 * 1.5 ** this.#restarts++, 15_000);
      this.#restartTimer = setTimeout(() => {
        this.start().catch((error: Error) => log.error({ server: this.name, err: error.message }, 'upstream restart failed'));
      }, delay);
    });
    this.onUp();
  }

  send(message: JsonRpcMessage): void {
    this.#child?.stdin.write(JSON.stringify(message) + '\n');
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (process.platform !== 'win32' && child.pid) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        /* already gone */
      }
    };
    const term = setTimeout(() => kill('SIGTERM'), 2000);
    const hard = setTimeout(() => kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(term);
    clearTimeout(hard);
    kill('SIGKILL'); // any grandchild left in the group
  }
}
