import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serverPath } from '../../server/access/server-url.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';
import { createLogger, type Logger } from '../../server/logger.ts';
import { acquireHomeLock, HomeLockedError } from '../core/home-lock.ts';
import { AdminClient } from '../core/admin-client.ts';
import { controllerSettings } from '../core/controller-options.ts';
import { HealthWatcher } from '../core/health-watcher.ts';
import { HostController } from '../core/host-controller.ts';
import { onWakeFromSleep } from '../core/sleep-detector.ts';
import { UsageError } from './common.ts';
import { clock, humanLogLine, notificationLine, teeToTerminal } from './terminal-lines.ts';

export async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' }, container: { type: 'boolean' } }, strict: true });
  const port = parsePort(values.port);
  // In a container (flag or HARBOR_CONTAINER=1) the host runs in this process: the orchestrator supervises.
  if (values.container || ['1', 'true'].includes(process.env.HARBOR_CONTAINER ?? '')) {
    return (await import('./serve-container.ts')).serveContainer({ config: values.config, port });
  }
  // The same home, config and options as the tray app (main/core/controller-options.ts).
  const settings = controllerSettings({ configFile: values.config, port });
  const paths = settings.paths;
  // Before anything is written (admin.secret, controller.json, host.json): a second serve touches nothing.
  lockHome(paths.home);
  // JSON in logs/harbor.log; serve's own lines also on the terminal, as human lines. The supervisor
  // gets the file alone: its state changes reach the terminal once, as 'log' events (below).
  const say = (line: string) => {
    if (process.stderr.writable) process.stderr.write(line + '\n');
  };
  const fileLog = createLogger({ name: 'harbor', file: join(paths.logs, 'harbor.log') });
  const log = teeToTerminal(fileLog, say);
  const controller = new HostController({ ...settings.controller, logger: fileLog });
  const terminal = showHostOnTerminal(controller, log, say);
  const watcher = watchHealth(controller, log);
  try {
    await controller.start();
  } catch (error) {
    // host-main explained a fatal start in plain lines, shown above as they came: not twice.
    if ((error as Error).name === 'HostStartError' && terminal.plainLinesAtStart() > 0) process.exit(2);
    throw error;
  }
  watcher.start();
  controller.on('share', (state) => {
    if (state.publicUrl) log.info({ state: state.state, url: state.publicUrl }, 'sharing');
    else if (state.lastError) log.warn({ state: state.state, err: state.lastError }, 'sharing problem');
  });
  onWakeFromSleep((slept) => {
    log.info({ sleptSeconds: Math.round(slept / 1000) }, 'woke from sleep; checking the tunnel');
    void controller.share.checkAlive();
  });
  stopOnSignals(controller, watcher, log);
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${value}"`);
  return port;
}

/**
 * The host's log lines, shown in the foreground as human lines, and the first 'ready' announced on
 * stdout (later ones logged as restarts). Counts the plain lines host-main printed before that.
 */
function showHostOnTerminal(controller: HostController, log: Logger, say: (line: string) => void): { plainLinesAtStart: () => number } {
  // A closed stderr (the terminal or pipe went away) must not stop the supervisor.
  process.stderr.on('error', () => {});
  let plainLinesAtStart = 0;
  let announced = false;
  controller.on('log', (event) => {
    if (event.stream === 'stdout' || !process.stderr.writable) return;
    if (event.stream === 'supervisor') return say(`${clock(event.at)} host  ${event.line}`);
    const line = humanLogLine(event.line, event.at);
    if (line === event.line && !announced) plainLinesAtStart++;
    say(line);
  });
  controller.on('state', (event) => {
    if (event.to === 'errored') log.error({ reason: event.reason }, 'host is crash-looping; retrying slowly');
  });
  controller.on('ready', (ready) => {
    if (announced) {
      log.info({ url: ready.url }, 'host restarted');
      return;
    }
    announced = true;
    process.stdout.write(`Harbor is serving ${ready.servers.map((s) => serverPath(s)).join(', ')} at ${ready.url}\n`);
  });
  return { plainLinesAtStart: () => plainLinesAtStart };
}

/** Health changes and what the tray app would notify about, on the terminal (through the log). Not started. */
function watchHealth(controller: HostController, log: Logger): HealthWatcher {
  let hostApi: AdminClient | null = null;
  const watcher = new HealthWatcher({ api: () => hostApi, publicUrl: () => controller.share.state.publicUrl });
  watcher.on('status', ({ health, previous }) => {
    if (previous && previous.state !== health.state) log[health.state === 'red' ? 'warn' : 'info']({ health: health.state, reasons: health.reasons }, 'health changed');
  });
  watcher.on('notification', (spec) => log.info({ kind: spec.kind }, notificationLine(spec)));
  controller.on('ready', (ready) => {
    hostApi = AdminClient.forHost(ready.url, controller.adminSecret);
  });
  return watcher;
}

/** SIGINT/SIGTERM stop the host within 15 s; a second one exits at once. */
function stopOnSignals(controller: HostController, watcher: HealthWatcher, log: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C or SIGTERM: the user wants out now. The exit guard still kills the children.
      log.warn({ signal }, 'stopping at once');
      process.exit(1);
    }
    stopping = true;
    watcher.stop();
    log.info({ signal }, 'stopping (again to force)');
    // Kept referenced: whatever a stop waits on, the process ends within this bound.
    setTimeout(() => {
      log.error('stop did not finish in 15 s; exiting');
      process.exit(1);
    }, 15_000);
    controller.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Takes the home's lock (released on exit) or explains who holds it. */
function lockHome(home: string): void {
  try {
    acquireHomeLock(home);
  } catch (error) {
    if (!(error instanceof HomeLockedError)) throw error;
    const url = readHostRuntime(home)?.url ?? 'still starting';
    error.message = `Harbor is already running in ${home} (pid ${error.owner.pid}, ${url}). harbor status shows it; stop it first, or set HARBOR_HOME to run another.`;
    throw error;
  }
}
