import { mkdirSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

/** The machine facts harborHome depends on (injectable, so each platform's choice is testable anywhere). */
export interface HomeSystem {
  platform: NodeJS.Platform;
  homedir: string;
}

/**
 * Where Harbor keeps config.json, its databases and logs. `$HARBOR_HOME` wins; otherwise the platform's
 * config dir. The tray app and `harbor serve` both use this one home (not Electron's userData).
 */
export function harborHome(env: NodeJS.ProcessEnv = process.env, system: HomeSystem = { platform: platform(), homedir: homedir() }): string {
  if (env.HARBOR_HOME) return env.HARBOR_HOME;
  const home = system.homedir;
  switch (system.platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'harbor');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'harbor');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'harbor');
  }
}

/** Every file and folder of a Harbor home, named once. */
export interface HarborPaths {
  home: string;
  config: string;
  /** Tokens, audit log, metric history. */
  database: string;
  /** The bounded caches' disk tier: a file of its own, deleted and recreated when corrupt. */
  cache: string;
  /** The docs server's full-text index, rebuilt from the folder when lost. */
  docsIndex: string;
  logs: string;
  /** The host process's own log (pino), tailed by the admin API's `logs` for process "host". */
  hostLog: string;
  /** What `harbor serve` knows of the host child it supervises, read by `harbor status`. */
  controller: string;
  docs: string;
}

export function harborPaths(home: string = harborHome()): HarborPaths {
  const logs = join(home, 'logs');
  return {
    home,
    config: join(home, 'config.json'),
    database: join(home, 'harbor.db'),
    cache: join(home, 'cache.db'),
    docsIndex: join(home, 'docs-index.db'),
    logs,
    hostLog: join(logs, 'host.log'),
    controller: join(home, 'controller.json'),
    docs: join(home, 'docs'),
  };
}

export function ensureHome(paths: HarborPaths): void {
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  mkdirSync(paths.logs, { recursive: true });
}
