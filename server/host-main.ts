/**
 * Entry of the host child process: the unit that fails and restarts (DESIGN.md section 1). Its
 * supervisor (the CLI or the Electron main process) learns it is ready over IPC.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './config/load-config.ts';
import { AdminInputError } from './admin/admin-api.ts';
import type { ExportRequest, ExportResult } from './admin/host-api.ts';
import { SupervisorRequests } from './admin/supervisor-requests.ts';
import { startHost, type Host, type ShareControl, type ShareState } from './host.ts';
import { createLogger } from './logger.ts';
import { logUnhandledRejections } from './unhandled-rejections.ts';

export const EXIT_CONFIG_ERROR = 2;
export const EXIT_PORT_IN_USE = 3;

export interface HostReadyMessage {
  type: 'ready';
  url: string;
  port: number;
  servers: string[];
}

const { values } = parseArgs({
  options: { home: { type: 'string' }, config: { type: 'string' }, port: { type: 'string' } },
  strict: true,
});
const log = createLogger({ name: 'harbor-host' });
logUnhandledRejections(log);

/** Messages between the host child and its supervisor about sharing (the supervisor runs cloudflared). */
export type ShareIpc =
  | { type: 'share-request'; id: number; action: 'start' | 'stop'; request?: Record<string, unknown> }
  | { type: 'share-reply'; id: number; state?: ShareState; error?: string }
  | { type: 'share-state'; state: ShareState };

/**
 * "Move to a server…": the host asks its supervisor to run `harbor export`'s code (main/core/export,
 * out of server/'s reach), which also keeps the seconds of copying off the event loop serving teammates.
 */
export type ExportIpc =
  | { type: 'export-request'; id: number; request: ExportRequest }
  | { type: 'export-reply'; id: number; result?: ExportResult; error?: string; status?: number };

/**
 * The channel to the supervisor: Node's IPC under child_process.fork, or Electron's parentPort in a
 * utility process (the packaged app, where the runAsNode fuse is off).
 */
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
const toSupervisor: ((message: unknown) => void) | null = parentPort
  ? (message) => parentPort.postMessage(message)
  : process.send
    ? (message) => process.send!(message as never)
    : null;
function onSupervisorMessage(listener: (message: ShareIpc | ExportIpc) => void): void {
  if (parentPort) parentPort.on('message', (event) => listener(event.data as ShareIpc | ExportIpc));
  else process.on('message', listener);
}

let host: Host | null = null;
let shareState: ShareState = { state: 'off', mode: null, publicUrl: null, lastError: null };
// Share start/stop asked of the supervisor; every wait ends (reply, disconnect, timeout).
const waiting = new SupervisorRequests<ShareState>();
// An export copies Harbor's package (tens of MB): minutes on a slow disk, not the tunnel's 60 s.
const exportRequests = new SupervisorRequests<ExportResult>({ replyTimeoutMs: 10 * 60_000 });
onSupervisorMessage((message) => {
  if (message?.type === 'share-state') {
    shareState = message.state;
    host?.applyShareState(message.state);
  } else if (message?.type === 'share-reply') {
    const outcome = message.error
      ? { error: new AdminInputError(message.error) }
      : message.state
        ? { value: message.state }
        : { error: new AdminInputError('the supervisor answered without a share state') };
    waiting.reply(message.id, outcome);
  } else if (message?.type === 'export-reply') {
    // The refusal keeps its status (409: folder not empty); the admin API answers with it.
    exportRequests.reply(message.id, message.result ? { value: message.result } : { error: Object.assign(new Error(message.error ?? 'the export failed'), { status: message.status ?? 500 }) });
  }
});
function askExport(request: ExportRequest): Promise<ExportResult> {
  return exportRequests.ask('export the bundle', (id) => {
    if (!parentPort && !process.connected) throw new Error('the supervisor has disconnected');
    toSupervisor!({ type: 'export-request', id, request } satisfies ExportIpc);
  });
}
function askSupervisor(action: 'start' | 'stop', request?: Record<string, unknown>): Promise<ShareState> {
  return waiting.ask(`${action} sharing`, (id) => {
    if (!parentPort && !process.connected) throw new Error('the supervisor has disconnected');
    toSupervisor!({ type: 'share-request', id, action, ...(request ? { request } : {}) } satisfies ShareIpc);
  });
}
const share: ShareControl | undefined = toSupervisor
  ? { get: () => shareState, start: (request) => askSupervisor('start', request), stop: () => askSupervisor('stop') }
  : undefined;

// The admin secret comes from the supervisor in the environment; nothing this process starts, by any
// path, may inherit it (a hosted server's env tool would hand it to a teammate), so it leaves process.env now.
const adminSecret = process.env.HARBOR_ADMIN_SECRET;
delete process.env.HARBOR_ADMIN_SECRET;

try {
  host = await startHost({
    home: values.home ?? process.env.HARBOR_HOME ?? '.',
    ...(values.config ? { configFile: values.config } : {}),
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(adminSecret ? { adminSecret } : {}),
    log,
    ...(share ? { share } : {}),
    ...(toSupervisor ? { exportBundle: askExport } : {}),
  });
  host.applyShareState(shareState);
  const ready: HostReadyMessage = { type: 'ready', url: host.url, port: host.port, servers: [...host.servers.keys()] };
  toSupervisor?.(ready);
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'host stopping');
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    host!.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The supervisor died without stopping us: do not live on as an orphan holding the port.
  process.on('disconnect', () => {
    // Pending share calls would otherwise wait for a reply that cannot come: 503 them first.
    waiting.disconnected('the supervisor has disconnected');
    exportRequests.disconnected('the supervisor has disconnected');
    stop('supervisor gone');
  });
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`harbor: ${error.message}\nThe file was left unchanged.\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  if ((error as { code?: string }).code === 'EADDRINUSE') {
    process.stderr.write(`harbor: the port is in use (${(error as Error).message}); pass --port N or --port 0\n`);
    process.exit(EXIT_PORT_IN_USE);
  }
  process.stderr.write(`harbor: host failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
