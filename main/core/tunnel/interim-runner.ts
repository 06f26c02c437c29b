import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import type { ProcessRunner, ProcessRunnerSpec, RunnerLogStream } from './process-runner.ts';

/**
 * Stop-gap for the project's Supervisor, which was not committed when the tunnel manager was written.
 * It keeps one child running: restarts it after a crash or a failed readiness check with the
 * DESIGN.md §5 backoff (100 ms × 1.5ⁿ, capped at 15 s, reset after 30 s online). No memory
 * watchdog, no crash-loop state and no log files: cloudflared needs none of them to be tested.
 * cloudflared spawns no children, so killing the child is killing the tree.
 */
export class InterimRunner extends EventEmitter implements ProcessRunner {
  readonly spec: ProcessRunnerSpec;
  #child: ChildProcess | undefined;
  #state = 'stopped';
  #wanted = false;
  #restarts = 0;
  #attempt = 0;
  #onlineAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(spec: ProcessRunnerSpec) {
    super();
    this.spec = spec;
  }

  info(): { pid: number | undefined; state: string; restarts: number } {
    return { pid: this.#child?.pid, state: this.#state, restarts: this.#restarts };
  }

  async start(): Promise<void> {
    if (this.#wanted) return;
    this.#wanted = true;
    this.#spawn();
  }

  async stop(): Promise<void> {
    this.#wanted = false;
    clearTimeout(this.#timer);
    await this.#killChild();
    this.#setState('stopped');
  }

  async restart(_reason: string): Promise<void> {
    clearTimeout(this.#timer);
    const wanted = this.#wanted;
    this.#wanted = false; // the exit below is ours, not a crash
    await this.#killChild();
    this.#wanted = wanted;
    this.#restarts++;
    if (wanted) this.#spawn();
  }

  #setState(state: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #spawn(): void {
    this.#setState('starting');
    const child = spawn(this.spec.command, this.spec.args, { env: this.spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    for (const stream of ['stdout', 'stderr'] as RunnerLogStream[]) {
      const readable = child[stream];
      if (!readable) continue;
      readable.on('error', () => {});
      createInterface({ input: readable, crlfDelay: Infinity }).on('line', (line) => this.emit('log', line, stream));
    }
    child.once('error', (error) => {
      // ENOENT/EACCES: no 'exit' follows, so report it as one.
      this.emit('log', `spawn failed: ${error.message}`, 'stderr');
      this.#onExit(child, null, null);
    });
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
    if (child.pid !== undefined) this.emit('spawn', child.pid);
    this.#awaitReady(child);
  }

  #awaitReady(child: ChildProcess): void {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ready within ${this.spec.readyTimeoutMs} ms`)), this.spec.readyTimeoutMs);
    });
    Promise.race([this.spec.ready(child), timeout])
      .then(() => {
        if (this.#child !== child || child.exitCode !== null) return;
        this.#onlineAt = Date.now();
        this.#setState('online');
      })
      .catch(() => {
        // A child that never got ready is restarted like a crashed one.
        if (this.#child === child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      })
      .finally(() => clearTimeout(timer));
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.emit('exit', code, signal);
    if (!this.#wanted) return;
    const onlineMs = this.#onlineAt ? Date.now() - this.#onlineAt : 0;
    this.#attempt = onlineMs >= 30_000 ? 0 : this.#attempt + 1;
    this.#onlineAt = 0;
    this.#setState('waiting');
    const delay = Math.min(15_000, Math.round(100 * 1.5 ** Math.max(0, this.#attempt - 1)));
    this.#timer = setTimeout(() => {
      if (!this.#wanted) return;
      this.#restarts++;
      this.#spawn();
    }, delay);
  }

  async #killChild(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#setState('stopping');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const grace = setTimeout(() => child.kill('SIGKILL'), this.spec.stopGraceMs ?? 5_000);
    await exited;
    clearTimeout(grace);
  }
}
