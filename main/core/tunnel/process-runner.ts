import type { ChildProcess } from 'node:child_process';
import { InterimRunner } from './interim-runner.ts';

/**
 * The slice of the project's Supervisor (server/supervision/supervisor.ts, DESIGN.md §5) that the
 * tunnel manager uses. The manager depends on this interface only; `createProcessRunner` below is the
 * one place that decides what implements it.
 */
export interface ProcessRunnerSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Runs after every spawn; the child is online when it resolves. A rejection counts as a failed start. */
  ready: (child: ChildProcess) => Promise<void>;
  readyTimeoutMs: number;
  /** SIGTERM → this long → SIGKILL. */
  stopGraceMs?: number;
}

export type RunnerLogStream = 'stdout' | 'stderr';

export interface ProcessRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(reason: string): Promise<void>;
  info(): { pid: number | undefined; state: string; restarts: number };
  on(event: 'spawn', listener: (pid: number) => void): this;
  on(event: 'log', listener: (line: string, stream: RunnerLogStream) => void): this;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'state', listener: (state: string) => void): this;
  removeAllListeners(): this;
}

export type ProcessRunnerFactory = (spec: ProcessRunnerSpec) => ProcessRunner;

/**
 * Today: a small built-in runner (spawn, line capture, readiness, restart with PM2-style backoff).
 * When server/supervision/supervisor.ts lands, this returns an adapter over `new Supervisor(...)`
 * and interim-runner.ts is deleted; nothing else changes.
 */
export const createProcessRunner: ProcessRunnerFactory = (spec) => new InterimRunner(spec);
