import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeAdminSecret } from '../../server/admin/admin-secret.ts';
import type { HostReadyMessage, ShareIpc } from '../../server/host-main.ts';
import type { ShareState } from '../../server/host.ts';
import { ShareController, type ShareRequest } from './share-controller.ts';
import { exportAnswerer, isExportRequest } from './export/export-requests.ts';
import type { TunnelManagerOptions } from './tunnel/tunnel-manager.ts';
import { harborPaths } from '../../server/harbor-home.ts';
import type { Logger } from '../../server/logger.ts';
import { Supervisor, type LogEvent, type StateEvent, type SupervisorInfo, type SupervisorOptions } from '../../server/supervision/supervisor.ts';
import { freeLoopbackPort } from './tunnel/free-port.ts';

/** The host child's own entry, as source (.ts under Node 24) or built (.js in dist/). */
const HOST_MAIN = fileURLToPath(new URL(`../../server/host-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/** Exit codes of host-main that no restart can fix. */
const FATAL_EXITS: Record<number, string> = { 2: 'configuration error', 3: 'port in use' };

export interface HostControllerOptions {
  home: string;
  configFile?: string | undefined;
  /** 0 picks a free port once; restarts keep it, so teammates' URLs stay valid. */
  port?: number | undefined;
  memoryLimitBytes?: number;
  memorySampleMs?: number;
  logger: Logger;
  /** cloudflared discovery and timing (tests point it at the stand-in). */
  tunnel?: TunnelManagerOptions;
  /** Node binary for the child (headless default: this one). */
  execPath?: string;
  /** How to start the child: child_process.fork by default; Electron's utilityProcess in the packaged app. */
  launch?: SupervisorOptions['launch'];
}

export interface HostControllerEvents {
  ready: [HostReadyMessage];
  state: [StateEvent];
  log: [LogEvent];
  share: [ShareState];
}

export class HostStartError extends Error {
  override name = 'HostStartError';
}

/**
 * Runs the host server as a supervised child and keeps it alive: the role of `harbor serve` and of the
 * Electron main process alike. The child is the unit that fails; this never dies with it.
 */
export class HostController extends EventEmitter<HostControllerEvents> {
  readonly #options: HostControllerOptions;
  #supervisor: Supervisor | null = null;
  #ready: HostReadyMessage | null = null;
  adminSecret = '';
  readonly share: ShareController;

  constructor(options: HostControllerOptions) {
    super();
    this.#options = options;
    this.share = new ShareController({ home: options.home, logger: options.logger, ...(options.tunnel ? { tunnel: options.tunnel } : {}) });
    this.share.onChange = (state) => {
      this.#supervisor?.send({ type: 'share-state', state } satisfies ShareIpc);
      this.emit('share', state);
    };
  }

  get url(): string | null {
    return this.#ready?.url ?? null;
  }

  get supervisor(): Supervisor | null {
    return this.#supervisor;
  }

  info(): SupervisorInfo | null {
    return this.#supervisor?.info() ?? null;
  }

  /** Resolves once the host first reports ready; rejects on a fault no restart can fix (bad config, port taken). */
  async start(): Promise<HostReadyMessage> {
    const port = this.#options.port === 0 || this.#options.port === undefined ? await this.#pickPort() : this.#options.port;
    this.adminSecret = writeAdminSecret(this.#options.home);
    const supervisor = new Supervisor(hostSupervisorOptions(this.#options, port, this.adminSecret));
    this.#supervisor = supervisor;
    this.#relay(supervisor);
    return this.#firstReady(supervisor);
  }

  /** The host child's state, log lines and messages: status file, events, share and export requests. */
  #relay(supervisor: Supervisor): void {
    const { home } = this.#options;
    supervisor.on('state', (event) => {
      // What `harbor status` shows of the host process, whichever face (serve or the tray app) runs it.
      writeFileSync(harborPaths(home).controller, JSON.stringify({ pid: process.pid, host: supervisor.info() }) + '\n');
      this.emit('state', event);
    });
    supervisor.on('log', (event) => this.emit('log', event));
    let resumed = false;
    const answerExport = exportAnswerer({ configFile: this.#options.configFile ?? harborPaths(home).config, databaseFile: harborPaths(home).database });
    supervisor.on('message', (message) => {
      if (isReady(message)) {
        this.#ready = message;
        this.share.setHostPort(message.port);
        // A restarted host learns the tunnel's state at once: public hostname, JSON mode.
        supervisor.send({ type: 'share-state', state: this.share.state } satisfies ShareIpc);
        this.emit('ready', message);
        if (!resumed) {
          resumed = true;
          void this.share.resume();
        }
      } else if (isShareRequest(message)) void this.#onShareRequest(supervisor, message);
      else if (isExportRequest(message)) void answerExport(message).then((reply) => supervisor.send(reply));
    });
  }

  /** Starts the child; resolves on its first ready, rejects (after stopping it) on a fatal exit code. */
  #firstReady(supervisor: Supervisor): Promise<HostReadyMessage> {
    return new Promise<HostReadyMessage>((resolve, reject) => {
      const onReady = (message: HostReadyMessage) => {
        cleanup();
        resolve(message);
      };
      const onExit = (event: { code: number | null; expected: boolean }) => {
        const fatal = event.code !== null ? FATAL_EXITS[event.code] : undefined;
        if (!fatal) return;
        cleanup();
        // host-main explains a fatal start in plain stderr lines; pino's JSON lines are the log, not the reason.
        const detail = supervisor.log
          .tail(20)
          .filter((l) => l.stream === 'stderr' && !l.line.startsWith('{'))
          .map((l) => l.line)
          .join('\n');
        void supervisor.stop(fatal).then(() => reject(new HostStartError(detail || `host failed: ${fatal}`)));
      };
      const cleanup = () => {
        this.off('ready', onReady);
        supervisor.off('exit', onExit);
      };
      this.on('ready', onReady);
      supervisor.on('exit', onExit);
      supervisor.start();
    });
  }

  async restart(reason = 'restarted by the user'): Promise<void> {
    await this.#supervisor?.restart(reason);
  }

  async stop(): Promise<void> {
    await this.share.shutdown();
    await this.#supervisor?.dispose();
  }

  async #onShareRequest(supervisor: Supervisor, message: Extract<ShareIpc, { type: 'share-request' }>): Promise<void> {
    try {
      const state =
        message.action === 'stop' ? await this.share.stop() : await this.share.start((message.request ?? {}) as unknown as ShareRequest);
      supervisor.send({ type: 'share-reply', id: message.id, state } satisfies ShareIpc);
    } catch (error) {
      supervisor.send({ type: 'share-reply', id: message.id, error: (error as Error).message } satisfies ShareIpc);
    }
  }

  async #pickPort(): Promise<number | null> {
    // An explicit 0 means "any free port": pick it here so every restart of the child reuses it.
    if (this.#options.port === 0) return freeLoopbackPort();
    return null; // the config's port (or 7837)
  }
}

/** How the host child runs: host-main with its home, port and config, heap flags, environment and memory watchdog. */
function hostSupervisorOptions(options: HostControllerOptions, port: number | null, adminSecret: string): SupervisorOptions {
  const { home, logger } = options;
  const args = ['--home', home, ...(port !== null ? ['--port', String(port)] : [])];
  if (options.configFile) args.push('--config', options.configFile);
  const limitBytes = options.memoryLimitBytes ?? 512 * 1024 * 1024;
  return {
    name: 'host',
    command: HOST_MAIN,
    args,
    fork: true,
    execArgv: hostHeapFlags(limitBytes),
    ...(options.execPath ? { execPath: options.execPath } : {}),
    ...(options.launch ? { launch: options.launch } : {}),
    env: hostEnv(home, adminSecret),
    inheritEnv: 'all',
    ready: 'ipc',
    readyTimeoutMs: 30_000,
    memory: {
      limitBytes,
      // The host's own memory: each upstream below it has a limit and a watchdog of its own.
      includeDescendants: false,
      ...(options.memorySampleMs ? { sampleMs: options.memorySampleMs } : {}),
    },
    log: { file: harborPaths(home).hostLog },
    logger,
  };
}

function hostHeapFlags(limitBytes: number): string[] {
  // A small young generation: under load V8 otherwise grows it to tens of MB that it keeps.
  // Measured at 25 clients: Harbor's own RSS 196 MB instead of 304 MB, throughput within the
  // bench's round-to-round noise.
  // The old generation capped at the host's memory limit: V8 scales how far the heap may grow past
  // its live size before the next full collection with that cap (well under 2x for caps below a
  // gigabyte or two, 4x with the default cap, a quarter of the machine's memory), so promoted
  // garbage is collected before it piles up. The cap itself never binds first: the memory watchdog
  // restarts the host when its RSS, always above its heap, passes the same limit.
  return ['--max-semi-space-size=2', `--max-old-space-size=${Math.max(64, Math.round(limitBytes / (1024 * 1024)))}`];
}

function hostEnv(home: string, adminSecret: string): Record<string, string> {
  // The user's environment (log level, embeddings keys the config names) plus the secret, which
  // host-main deletes from its process.env at once: its own upstreams start from a minimal base.
  // HARBOR_STATE_SECRET (replicas' shared requestState key) is one of Harbor's secrets too, so 'all'
  // leaves it out: it is passed on by name, to the host alone.
  // MALLOC_ARENA_MAX=2 (glibc; ignored elsewhere), unless the user set one: under load each of the
  // host's threads (libuv's pool, V8's workers) otherwise gets a malloc arena of its own, kept once
  // touched. Measured at 25 sessions: host peak RSS 118 -> 108.6 MB, throughput within the noise.
  return {
    HARBOR_HOME: home,
    HARBOR_ADMIN_SECRET: adminSecret,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    ...(process.env.HARBOR_STATE_SECRET ? { HARBOR_STATE_SECRET: process.env.HARBOR_STATE_SECRET } : {}),
  };
}

function isShareRequest(message: unknown): message is Extract<ShareIpc, { type: 'share-request' }> {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'share-request';
}

function isReady(message: unknown): message is HostReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready' && 'url' in message;
}
