import { utilityProcess, type UtilityProcess } from 'electron';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/**
 * Electron's utilityProcess.fork dressed as the part of Node's ChildProcess that the Supervisor uses
 * (pid, stdout/stderr, send, kill, connected; 'spawn', 'message', 'exit', 'error'). A packaged app has
 * the runAsNode fuse off, so child_process.fork cannot start the host child there; this is the
 * replacement, ready for a `fork` hook in SupervisorOptions/HostControllerOptions (see the issue note).
 * The child reads `process.parentPort` instead of `process.on('message')`/`process.send`.
 */
export class UtilityChild extends EventEmitter {
  readonly #child: UtilityProcess;
  readonly stdin = null;
  connected = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  constructor(modulePath: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; execArgv?: string[] } = {}) {
    super();
    this.#child = utilityProcess.fork(modulePath, args, {
      stdio: 'pipe',
      serviceName: 'Harbor host',
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.execArgv ? { execArgv: options.execArgv } : {}),
    });
    this.#child.on('spawn', () => {
      this.connected = true;
      this.emit('spawn');
    });
    this.#child.on('message', (message: unknown) => this.emit('message', message));
    this.#child.on('error', (type, location) => this.emit('error', new Error(`${type} at ${location}`)));
    this.#child.on('exit', (code) => {
      this.connected = false;
      this.exitCode = code;
      this.emit('exit', code, null);
      this.emit('close', code, null);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get stdout(): Readable | null {
    return this.#child.stdout as Readable | null;
  }

  get stderr(): Readable | null {
    return this.#child.stderr as Readable | null;
  }

  send(message: unknown): boolean {
    if (!this.connected) return false;
    this.#child.postMessage(message);
    return true;
  }

  /** Utility processes take no signal: any kill ends the process (the Supervisor escalates by tree-kill on the pid). */
  kill(_signal?: NodeJS.Signals | number): boolean {
    return this.#child.kill();
  }
}
