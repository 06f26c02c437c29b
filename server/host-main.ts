/**
 * Entry of the host child process: the unit that fails and restarts (DESIGN.md section 1). Its
 * supervisor (the CLI or the Electron main process) learns it is ready over IPC.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './config/load-config.ts';
import { startHost } from './host.ts';
import { createLogger } from './logger.ts';

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

try {
  const host = await startHost({
    home: values.home ?? process.env.HARBOR_HOME ?? '.',
    ...(values.config ? { configFile: values.config } : {}),
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(process.env.HARBOR_ADMIN_SECRET ? { adminSecret: process.env.HARBOR_ADMIN_SECRET } : {}),
    log,
  });
  const ready: HostReadyMessage = { type: 'ready', url: host.url, port: host.port, servers: [...host.servers.keys()] };
  process.send?.(ready);
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'host stopping');
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    host.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The supervisor died without stopping us: do not live on as an orphan holding the port.
  process.on('disconnect', () => stop('supervisor gone'));
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
