import { fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { silentLogger, type Logger } from '../logger.ts';
import { defaultRestartDelay, nextAttempt, restartDelay, type RestartDelayOptions } from './backoff.ts';
import { minimalEnv, withoutHarborSecrets } from './child-env.ts';
import { CrashWindow, defaultCrashWindow } from './crash-window.ts';
import { killOnExit } from './exit-guard.ts';
import { forEachLine } from './line-splitter.ts';
import { killTree, treeRss } from './process-tree.ts';
import { RotatingLog, type LogStream, type RotatingLogOptions } from './rotating-log.ts';

/**
 * One supervised child process with PM2 semantics (DESIGN.md §5): readiness, exponential restart backoff, a
 * crash-loop rule that slows down instead of giving up, a memory watchdog over the whole process tree, and a stop
 * that never leaves a grandchild behind. Plain Node (no Electron), used by main for the host child and cloudflared
 * and by the host for each stdio upstream.
 */

export type SupervisorState = 'starting' | 'online' | 'stopping' | 'stopped' | 'crashed' | 'waiting' | 'errored';

/** Resolves when the child is ready to serve; rejects (or never settles) when it is not. `signal` aborts when the run ends. */
export type ReadinessProbe = (child: ChildProcess, signal: AbortSignal) => Promise<void>;

export interface MemoryWatchOptions {
  /** RSS of the whole tree above which the child is restarted. Default 512 MiB; 0 or Infinity turns the limit off. */
  limitBytes?: number;
  /** Sampling period. Default 2000 ms; 0 turns sampling off. */
  sampleMs?: number;
  /** Consecutive samples over the limit before the restart, so a short peak is tolerated. Default 3. */
  samples?: number;
  /**
   * Default true: the whole process tree counts (npx and the server it starts). False counts the
   * child alone: the host child's upstreams are supervised, and limited, on their own.
   */
  includeDescendants?: boolean;
}

export interface SupervisorOptions {
  name: string;
  /** Executable (spawn) or module path (fork). */
  command: string;
  args?: string[];
  /** Added to the base environment `inheritEnv` picks. */
  env?: NodeJS.ProcessEnv;
  /**
   * What the child's environment starts from (child-env.ts). Default 'minimal': the few variables any
   * program needs (PATH, HOME, locale, temp, the platform's essentials), as the MCP SDK's stdio client
   * does; a hosted server must never see Harbor's secrets, so the safe base is the default. 'all': this
   * process's whole environment less Harbor's secret names (the host child, cloudflared). 'none': `env` alone.
   */
  inheritEnv?: 'minimal' | 'all' | 'none';
  cwd?: string;
  /** Run `command` as a Node module with `child_process.fork` (IPC channel included). */
  fork?: boolean;
  /** Node flags for a forked child. Default none (the parent's flags, e.g. `--inspect` or `--test`, are not passed on). */
  execArgv?: string[];
  /** Node binary for a forked child. Default `process.execPath`. */
  execPath?: string;
  /**
   * Starts a forked child some other way than child_process.fork: a packaged Electron app (runAsNode
   * fuse off) passes utilityProcess.fork dressed as a ChildProcess.
   */
  launch?: (modulePath: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string | undefined; execArgv: string[] }) => ChildProcess;
  /**
   * Default true: stdout lines go to the log. False leaves stdout unread for the owner (`stdout` getter or the
   * 'spawn' event), as the MCP host needs for JSON-RPC over an upstream's stdin/stdout. The owner must then read it,
   * or the child blocks once the pipe is full.
   */
  captureStdout?: boolean;
  /** When the child counts as online: at spawn, on an IPC `{type:'ready'}` message, or when a probe resolves. Default 'spawn'. */
  ready?: 'spawn' | 'ipc' | ReadinessProbe;
  /** A child not ready by then is killed and restarted (a crash). Default 30000 ms (first `npx` start downloads). */
  readyTimeoutMs?: number;
  restartDelay?: Partial<RestartDelayOptions>;
  /** More than this many crashes within `windowMs` is a crash loop → 'errored'. Default 10. */
  maxCrashes?: number;
  /** Default 60000 ms. */
  windowMs?: number;
  /**
   * Clock of every time this supervisor records (crash window, uptimes, event and exit times, nextStartAt).
   * Default Date.now. Timers stay real: a test injects a clock to decide what falls "within the window"
   * instead of racing real process starts against it.
   */
  now?: () => number;
  /** While errored, one more attempt this often. Default 5 min. */
  erroredRetryMs?: number;
  /** Grace between SIGTERM and SIGKILL to the tree. Default 5000 ms. */
  killTimeoutMs?: number;
  memory?: MemoryWatchOptions;
  /** SIGKILL the child's tree if this process exits without stopping it (see exit-guard.ts). Default true. */
  killOnExit?: boolean;
  /** Where output lines go: a RotatingLog to share, or options for one (default: in-memory tail only). */
  log?: RotatingLog | RotatingLogOptions;
  logger?: Logger;
}

export interface ExitRecord {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: string;
  at: number;
}

export interface SupervisorInfo {
  name: string;
  state: SupervisorState;
  pid: number | null;
  /** Time since the current child was spawned; 0 without a child. */
  uptimeMs: number;
  /** Respawns since the first start (crashes, memory restarts, readiness failures, restart()). */
  restarts: number;
  memoryRestarts: number;
  /** Latest RSS sample of the whole tree; 0 without a child or before the first sample. */
  rssBytes: number;
  /** The memory limit, or null when there is none. */
  memoryLimitBytes: number | null;
  lastExit: ExitRecord | null;
  lastError: string | null;
  /** When the next spawn is due in 'waiting' or 'errored'; null otherwise. */
  nextStartAt: number | null;
}

export interface StateEvent {
  name: string;
  from: SupervisorState;
  to: SupervisorState;
  reason: string;
  /** Exit code/signal of the child this transition is about (its last exit), null when none. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  restarts: number;
  uptimeMs: number;
  at: number;
  /** Set on 'waiting' and 'errored': when the next attempt is due. */
  retryInMs?: number;
  /** Set when the transition is a memory restart: the RSS that triggered it. */
  rssBytes?: number;
  memoryLimitBytes?: number;
}

export interface ExitEvent extends ExitRecord {
  name: string;
  pid: number | null;
  /** True when the supervisor asked for the exit (stop, restart, memory, readiness); false for a crash. */
  expected: boolean;
  uptimeMs: number;
}

export interface LogEvent {
  name: string;
  stream: LogStream;
  line: string;
  at: number;
}

export interface MemorySample {
  name: string;
  pid: number;
  rssBytes: number;
  memoryLimitBytes: number | null;
  /** Pids measured: the child first, then its descendants. */
  pids: number[];
  /** Consecutive samples above the limit so far, this one included. */
  overLimitSamples: number;
  at: number;
}

export interface SupervisorEvents {
  state: [StateEvent];
  spawn: [ChildProcess];
  exit: [ExitEvent];
  log: [LogEvent];
  memory: [MemorySample];
  message: [unknown];
}

/** Why the supervisor itself is ending a run; decides what happens after the tree is gone. */
type Intent = 'stop' | 'restart' | 'memory' | 'unready';

interface Run {
  child: ChildProcess;
  pid: number | null;
  spawnedAt: number;
  onlineAt: number | null;
  exit: ExitRecord | null;
  exited: Promise<ExitRecord>;
  markExited: (record: ExitRecord) => void;
  abort: AbortController;
  readyTimer: NodeJS.Timeout | null;
  memoryTimer: NodeJS.Timeout | null;
  overLimitSamples: number;
  intent: Intent | null;
  intentReason: string;
  /** RSS figure behind a memory restart, reported with the transition. */
  intentRss: number | null;
  /** Resolves when the supervisor finished ending this run (tree gone); set once a kill started. */
  ending: Promise<void> | null;
  /** Lifts the kill-on-exit guard once the tree is gone. */
  unguard: () => void;
}

const isWindows = process.platform === 'win32';
/** RSS past this multiple of the limit restarts at once, without waiting for more samples. */
const RUNAWAY_FACTOR = 1.5;

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly name: string;
  readonly log: RotatingLog;

  readonly #options: SupervisorOptions;
  readonly #delay: RestartDelayOptions;
  readonly #now: () => number;
  readonly #crashes: CrashWindow;
  readonly #logger: Logger;
  readonly #readyTimeoutMs: number;
  readonly #erroredRetryMs: number;
  readonly #killTimeoutMs: number;
  readonly #memoryLimit: number | null;
  readonly #sampleMs: number;
  readonly #samples: number;
  readonly #ownsLog: boolean;

  #state: SupervisorState = 'stopped';
  #run: Run | null = null;
  /** The owner wants the child running; false after stop(). */
  #wanted = false;
  #started = false;
  #attempt = 0;
  /** Set by the crash-loop rule; cleared by a run that stays online `resetAfterMs`, or by restart(). */
  #crashLooping = false;
  #restarts = 0;
  #memoryRestarts = 0;
  #rssBytes = 0;
  #lastExit: ExitRecord | null = null;
  #lastError: string | null = null;
  #startTimer: NodeJS.Timeout | null = null;
  #nextStartAt: number | null = null;

  constructor(options: SupervisorOptions) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#delay = { ...defaultRestartDelay, ...options.restartDelay };
    this.#crashes = new CrashWindow({
      maxCrashes: options.maxCrashes ?? defaultCrashWindow.maxCrashes,
      windowMs: options.windowMs ?? defaultCrashWindow.windowMs,
    });
    this.#logger = (options.logger ?? silentLogger).child({ process: options.name });
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#erroredRetryMs = options.erroredRetryMs ?? 5 * 60_000;
    this.#killTimeoutMs = options.killTimeoutMs ?? 5_000;
    const limit = options.memory?.limitBytes ?? 512 * 1024 * 1024;
    this.#memoryLimit = limit > 0 && Number.isFinite(limit) ? limit : null;
    this.#sampleMs = options.memory?.sampleMs ?? 2_000;
    this.#samples = Math.max(1, options.memory?.samples ?? 3);
    this.#ownsLog = !(options.log instanceof RotatingLog);
    this.log = options.log instanceof RotatingLog ? options.log : new RotatingLog(options.log);
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** The current child, or null between runs. A new one is announced by the 'spawn' event. */
  get child(): ChildProcess | null {
    return this.#run?.child ?? null;
  }

  get pid(): number | null {
    return this.#run?.pid ?? null;
  }

  /** The current child's stdin (always a pipe), for owners that speak to it, e.g. JSON-RPC to a stdio MCP server. */
  get stdin(): Writable | null {
    return this.#run?.child.stdin ?? null;
  }

  /** The current child's stdout; read it yourself when `captureStdout` is false. */
  get stdout(): Readable | null {
    return this.#run?.child.stdout ?? null;
  }

  /** Starts the child unless it is already running or scheduled. */
  start(): void {
    this.#wanted = true;
    if (this.#state !== 'stopped') return;
    this.#spawn('start');
  }

  /** Ends the whole process tree (SIGTERM → grace → SIGKILL) and stays down until start(). */
  async stop(reason = 'stopped by request'): Promise<void> {
    this.#wanted = false;
    this.#cancelStartTimer();
    const run = this.#run;
    if (run) {
      await this.#end(run, 'stop', reason);
      return;
    }
    if (this.#state !== 'stopped') this.#transition('stopped', reason);
  }

  /**
   * Ends the current tree gracefully and starts a fresh child at once. A deliberate restart is the user acting,
   * so it also clears the crash-loop state and the backoff. Resolves when the new child has been spawned.
   */
  async restart(reason = 'restarted by request'): Promise<void> {
    this.#wanted = true;
    this.#crashLooping = false;
    this.#crashes.clear();
    this.#attempt = 0;
    this.#cancelStartTimer();
    const run = this.#run;
    if (run) {
      await this.#end(run, 'restart', reason);
      return;
    }
    this.#spawn(reason);
  }

  /** stop(), then close the log file (a RotatingLog passed in by the owner is left open for the owner). */
  async dispose(): Promise<void> {
    await this.stop('disposed');
    if (this.#ownsLog) await this.log.close();
  }

  /** Sends an IPC message to a forked child; false when there is no channel. */
  send(message: unknown): boolean {
    const child = this.#run?.child;
    if (!child?.connected || !child.send) return false;
    child.send(message as Parameters<ChildProcess['send']>[0], (error) => {
      if (error) this.#logger.debug({ err: error }, 'IPC send failed');
    });
    return true;
  }

  info(): SupervisorInfo {
    const run = this.#run;
    return {
      name: this.name,
      state: this.#state,
      pid: run?.pid ?? null,
      uptimeMs: run ? this.#now() - run.spawnedAt : 0,
      restarts: this.#restarts,
      memoryRestarts: this.#memoryRestarts,
      rssBytes: run ? this.#rssBytes : 0,
      memoryLimitBytes: this.#memoryLimit,
      lastExit: this.#lastExit,
      lastError: this.#lastError,
      nextStartAt: this.#nextStartAt,
    };
  }

  // ---- runs -------------------------------------------------------------------------------------------------

  #spawn(reason: string): void {
    this.#startTimer = null;
    this.#nextStartAt = null;
    if (this.#started) this.#restarts += 1;
    this.#started = true;
    this.#rssBytes = 0;

    let child: ChildProcess;
    try {
      child = this.#launch();
    } catch (error) {
      // Invalid options (a NUL byte in an argument, a bad cwd type) throw at once; treat them like a spawn failure.
      this.#spawnThrew(reason, error);
      return;
    }
    const run = newRun(child, this.#now());
    this.#run = run;
    this.#transition('starting', reason);
    this.#watchChild(run);
    this.#armReadyTimeout(run);
  }

  /** Starts the child process: launch() or fork() for a forked child, spawn() otherwise. Throws on invalid options. */
  #launch(): ChildProcess {
    const options = this.#options;
    const ipc = options.fork === true || options.ready === 'ipc';
    const stdio: StdioOptions = ipc ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'];
    const env = { ...baseEnv(options.inheritEnv ?? 'minimal'), ...options.env };
    // Its own process group on POSIX, so one kill(-pid) reaches grandchildren even after their parent died.
    const common = { cwd: options.cwd, env, stdio, detached: !isWindows, windowsHide: true };
    return options.fork && options.launch
      ? options.launch(options.command, options.args ?? [], { env, cwd: options.cwd, execArgv: options.execArgv ?? [] })
      : options.fork
      ? fork(options.command, options.args ?? [], {
          ...common,
          execArgv: options.execArgv ?? [],
          ...(options.execPath ? { execPath: options.execPath } : {}),
        })
      : spawn(options.command, options.args ?? [], common);
  }

  /** The child's output lines, errors, exit, IPC messages and spawn (kill guard, memory watch, readiness). */
  #watchChild(run: Run): void {
    const options = this.#options;
    const child = run.child;
    // Writes to a child that just died fail with EPIPE on stdin; that is the exit's business, not a crash of ours.
    child.stdin?.on('error', (error) => this.#logger.debug({ err: error }, 'stdin error'));
    if (options.captureStdout !== false && child.stdout) forEachLine(child.stdout, (line) => this.#line(line, 'stdout'));
    if (child.stderr) forEachLine(child.stderr, (line) => this.#line(line, 'stderr'));

    child.on('error', (error) => {
      // Spawn failures (ENOENT, EACCES) come as 'error' with no pid and no 'exit'; other errors are failed kills/sends.
      if (run.pid === null && run.exit === null) this.#exited(run, null, null, `spawn failed: ${error.message}`);
      else this.#logger.warn({ err: error }, 'child process error');
    });
    child.on('exit', (code, signal) => this.#exited(run, code, signal));
    child.on('message', (message) => {
      this.emit('message', message);
      if (options.ready === 'ipc' && isReadyMessage(message)) this.#online(run, 'ready (IPC)');
    });
    child.on('spawn', () => {
      run.pid = child.pid ?? null;
      if (options.killOnExit !== false) run.unguard = killOnExit(child, !isWindows);
      this.emit('spawn', child);
      this.#watchMemory(run);
      const ready = options.ready ?? 'spawn';
      if (ready === 'spawn') this.#online(run, 'spawned');
      else if (typeof ready === 'function') this.#probe(run, ready);
    });
  }

  /** A child that waits for IPC or a probe gets readyTimeoutMs to come online. */
  #armReadyTimeout(run: Run): void {
    const ready = this.#options.ready;
    if (ready === undefined || ready === 'spawn') return;
    run.readyTimer = setTimeout(() => {
      run.readyTimer = null;
      if (run.onlineAt === null) this.#unready(run, `not ready within ${this.#readyTimeoutMs} ms`);
    }, this.#readyTimeoutMs);
  }

  #spawnThrew(reason: string, error: unknown): void {
    const why = `spawn failed: ${error instanceof Error ? error.message : String(error)}`;
    const at = this.#now();
    this.#lastExit = { code: null, signal: null, reason: why, at };
    this.#lastError = why;
    this.#transition('starting', reason);
    this.#transition('crashed', why);
    this.#scheduleAfterFailure(0, why);
  }

  #probe(run: Run, probe: ReadinessProbe): void {
    // Through a promise, so a probe that throws synchronously fails readiness instead of escaping as an exception.
    Promise.resolve().then(() => probe(run.child, run.abort.signal)).then(
      () => this.#online(run, 'ready (probe)'),
      (error: unknown) => {
        if (run.abort.signal.aborted) return;
        this.#unready(run, `readiness probe failed: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  #online(run: Run, reason: string): void {
    if (run !== this.#run || run.onlineAt !== null || run.exit !== null || run.intent !== null) return;
    run.onlineAt = this.#now();
    if (run.readyTimer) clearTimeout(run.readyTimer);
    run.readyTimer = null;
    this.#transition('online', reason);
  }

  #unready(run: Run, reason: string): void {
    if (run !== this.#run || run.exit !== null || run.intent !== null) return;
    this.#lastError = reason;
    void this.#end(run, 'unready', reason);
  }

  /**
   * Ends `run` deliberately: SIGTERM to the tree, grace, SIGKILL; then what `intent` asks for. A stop that arrives
   * while a restart is ending the run takes over (the later wish wins), and both callers wait for the same end.
   */
  #end(run: Run, intent: Intent, reason: string): Promise<void> {
    if (run.intent === null || intent === 'stop' || intent === 'restart') {
      run.intent = intent;
      run.intentReason = reason;
    }
    if (run.ending) return run.ending;
    run.abort.abort();
    this.#stopWatching(run);
    if (run.exit === null) this.#transition('stopping', reason, intent === 'memory' ? run.intentRss : null);
    run.ending = this.#killAndWait(run).then(() => this.#afterEnd(run));
    return run.ending;
  }

  /** Never rejects: its continuation decides the next state, and nobody may be left waiting on a broken promise. */
  async #killAndWait(run: Run): Promise<void> {
    if (run.pid !== null) {
      try {
        const result = await killTree(run.pid, { graceMs: this.#killTimeoutMs, group: !isWindows });
        if (result.forced) this.#note(`did not exit within ${this.#killTimeoutMs} ms of SIGTERM; sent SIGKILL to the tree`);
        if (result.survivors.length > 0) {
          this.#logger.error({ survivors: result.survivors }, 'processes survived SIGKILL');
          this.#note(`pids ${result.survivors.join(', ')} survived SIGKILL`);
        }
      } catch (error) {
        this.#logger.error({ err: error }, 'killing the process tree failed; killing the child alone');
        run.child.kill('SIGKILL');
      }
    }
    // 'exit' follows the kill within a tick or two; bounded in case the child was never really spawned.
    await Promise.race([run.exited, delay(this.#killTimeoutMs + 2_000)]);
    run.unguard();
  }

  #afterEnd(run: Run): void {
    if (run !== this.#run) return;
    this.#run = null;
    const intent = run.intent;
    if (!this.#wanted) {
      this.#transition('stopped', intent === 'stop' ? run.intentReason : 'stopped by request');
      return;
    }
    // start() after stop(), or restart(): the later wish wins and the child comes back at once.
    if (intent === 'stop' || intent === 'restart') {
      this.#spawn(intent === 'stop' ? 'start' : run.intentReason);
      return;
    }
    // A crash, a memory restart or a readiness failure: all count against the crash rules, or a fast leak would
    // restart forever at full speed.
    if (intent === 'memory') this.#memoryRestarts += 1;
    this.#scheduleAfterFailure(onlineMsOf(run, this.#now()), run.intentReason);
  }

  #exited(run: Run, code: number | null, signal: NodeJS.Signals | null, why?: string): void {
    if (run.exit !== null) return;
    const at = this.#now();
    const expected = run.intent !== null;
    const reason = why ?? (expected ? run.intentReason : describeExit(code, signal));
    const record: ExitRecord = { code, signal, reason, at };
    run.exit = record;
    this.#lastExit = record;
    if (run.readyTimer) clearTimeout(run.readyTimer);
    run.readyTimer = null;
    run.abort.abort();
    this.#stopWatching(run);
    run.markExited(record);
    this.emit('exit', { name: this.name, pid: run.pid, expected, uptimeMs: at - run.spawnedAt, ...record });
    if (expected || run !== this.#run) return;

    this.#lastError = reason;
    this.#logger.warn({ code, signal }, `exited unexpectedly: ${reason}`);
    this.#transition('crashed', reason);
    // The child is gone but an orphaned grandchild (npx's own child) may still hold ports or files: end the group
    // before starting over. Usually nothing is left and this takes one /proc read. A stop() or restart() arriving
    // meanwhile sets an intent and waits for the same end.
    run.intentReason = reason;
    run.ending = this.#killAndWait(run).then(() => this.#afterEnd(run));
  }

  /** After a crash (or memory/readiness restart): backoff in 'waiting', or the slow retry of 'errored'. */
  #scheduleAfterFailure(onlineMs: number, reason: string): void {
    const now = this.#now();
    if (onlineMs >= this.#delay.resetAfterMs) this.#crashLooping = false;
    this.#attempt = nextAttempt(this.#attempt, onlineMs, this.#delay);
    const crashes = this.#crashes.record(now);
    const loopingNow = this.#crashes.isLooping(now);
    if (this.#crashLooping || loopingNow) {
      // Once errored, a slow retry that fails again stays errored even though the window has emptied meanwhile.
      const { maxCrashes, windowMs } = this.#crashes.options;
      const retry = `retrying every ${formatMs(this.#erroredRetryMs)}`;
      const why = loopingNow
        ? `crash loop: ${crashes} crashes within ${formatMs(windowMs)} (limit ${maxCrashes}); last: ${reason}; ${retry}`
        : `still failing after a crash loop; last: ${reason}; ${retry}`;
      this.#crashLooping = true;
      this.#lastError = why;
      this.#scheduleStart(this.#erroredRetryMs, 'errored', why, 'retry after crash loop');
      return;
    }
    const wait = restartDelay(this.#attempt - 1, this.#delay);
    this.#scheduleStart(wait, 'waiting', `restart in ${formatMs(wait)} after: ${reason}`, `restart after: ${reason}`);
  }

  #scheduleStart(waitMs: number, state: 'waiting' | 'errored', why: string, spawnReason: string): void {
    this.#nextStartAt = this.#now() + waitMs;
    this.#transition(state, why, null, waitMs);
    this.#startTimer = setTimeout(() => {
      this.#startTimer = null;
      if (this.#wanted && this.#run === null) this.#spawn(spawnReason);
    }, waitMs);
  }

  #cancelStartTimer(): void {
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = null;
    this.#nextStartAt = null;
  }

  // ---- memory watchdog --------------------------------------------------------------------------------------

  #watchMemory(run: Run): void {
    if (this.#sampleMs <= 0 || run.pid === null) return;
    const pid = run.pid;
    const tick = async (): Promise<void> => {
      run.memoryTimer = null;
      if (run !== this.#run || run.exit !== null || run.intent !== null) return;
      const { rssBytes, pids } = await treeRss(pid, this.#options.memory?.includeDescendants !== false);
      if (run !== this.#run || run.exit !== null || run.intent !== null || pids.length === 0) return;
      this.#rssBytes = rssBytes;
      const over = this.#memoryLimit !== null && rssBytes > this.#memoryLimit;
      run.overLimitSamples = over ? run.overLimitSamples + 1 : 0;
      this.emit('memory', {
        name: this.name,
        pid,
        rssBytes,
        memoryLimitBytes: this.#memoryLimit,
        pids,
        overLimitSamples: run.overLimitSamples,
        at: this.#now(),
      });
      // A runaway leak far past the limit is not given time to confirm itself: it could take the machine down.
      const runaway = this.#memoryLimit !== null && rssBytes > this.#memoryLimit * RUNAWAY_FACTOR;
      if (this.#memoryLimit !== null && (run.overLimitSamples >= this.#samples || runaway)) {
        const why = runaway
          ? `memory limit exceeded: RSS ${formatBytes(rssBytes)} > ${RUNAWAY_FACTOR}× the limit of ${formatBytes(this.#memoryLimit)}`
          : `memory limit exceeded: RSS ${formatBytes(rssBytes)} > limit ${formatBytes(this.#memoryLimit)} for ${run.overLimitSamples} samples in a row`;
        this.#lastError = why;
        run.intentRss = rssBytes;
        this.#logger.warn({ rssBytes, limitBytes: this.#memoryLimit }, why);
        void this.#end(run, 'memory', why);
        return;
      }
      schedule();
    };
    // A chained timeout rather than an interval: a slow sample (a busy /proc, pidusage spawning on Windows) never overlaps.
    const schedule = (): void => {
      // Once over the limit, confirm quickly: a leak keeps growing while we wait for the next samples.
      const delay = run.overLimitSamples > 0 ? Math.max(50, Math.floor(this.#sampleMs / 4)) : this.#sampleMs;
      run.memoryTimer = setTimeout(() => void tick().catch((error: unknown) => {
        this.#logger.debug({ err: error }, 'memory sample failed');
        schedule();
      }), delay);
      run.memoryTimer.unref();
    };
    schedule();
  }

  #stopWatching(run: Run): void {
    if (run.memoryTimer) clearTimeout(run.memoryTimer);
    run.memoryTimer = null;
  }

  // ---- events and logs --------------------------------------------------------------------------------------

  #transition(to: SupervisorState, reason: string, rssBytes: number | null = null, retryInMs?: number): void {
    const from = this.#state;
    this.#state = to;
    const run = this.#run;
    const exit = run?.exit ?? (to === 'starting' ? null : this.#lastExit);
    const event: StateEvent = {
      name: this.name,
      from,
      to,
      reason,
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      restarts: this.#restarts,
      uptimeMs: run ? (exit?.at ?? this.#now()) - run.spawnedAt : 0,
      at: this.#now(),
    };
    if (retryInMs !== undefined) event.retryInMs = retryInMs;
    if (rssBytes !== null) {
      event.rssBytes = rssBytes;
      if (this.#memoryLimit !== null) event.memoryLimitBytes = this.#memoryLimit;
    }
    this.#note(`${from} → ${to}: ${reason}`);
    const level = to === 'errored' || to === 'crashed' ? 'warn' : 'info';
    this.#logger[level]({ from, to, restarts: this.#restarts, pid: run?.pid ?? null }, reason);
    this.emit('state', event);
  }

  #line(line: string, stream: LogStream): void {
    const at = this.#now();
    this.log.write(line, stream, at);
    this.emit('log', { name: this.name, stream, line, at });
  }

  /** The supervisor's own remarks go into the same log, so the UI tail shows why a process restarted. */
  #note(text: string): void {
    this.#line(text, 'supervisor');
  }
}

/** A fresh run for a child just started: not yet online, no exit, no intent. */
function newRun(child: ChildProcess, now: number): Run {
  let markExited: (record: ExitRecord) => void = () => {};
  const exited = new Promise<ExitRecord>((resolve) => (markExited = resolve));
  return {
    child,
    pid: child.pid ?? null,
    spawnedAt: now,
    onlineAt: null,
    exit: null,
    exited,
    markExited,
    abort: new AbortController(),
    readyTimer: null,
    memoryTimer: null,
    overLimitSamples: 0,
    intent: null,
    intentReason: '',
    intentRss: null,
    ending: null,
    unguard: () => {},
  };
}

function baseEnv(inherit: 'minimal' | 'all' | 'none'): NodeJS.ProcessEnv {
  if (inherit === 'none') return {};
  return inherit === 'all' ? withoutHarborSecrets() : minimalEnv();
}

function onlineMsOf(run: Run, now: number): number {
  return run.onlineAt === null ? 0 : (run.exit?.at ?? now) - run.onlineAt;
}

function isReadyMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready';
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`;
  return code === null ? 'exited' : `exited with code ${code}`;
}

export function formatBytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)} s`;
  return `${+(ms / 60_000).toFixed(1)} min`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
