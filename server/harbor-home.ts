import { mkdirSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

/** Where Harbor keeps config.json, its databases and logs. `$HARBOR_HOME` wins; otherwise the platform's config dir. */
export function harborHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HARBOR_HOME) return env.HARBOR_HOME;
  const home = homedir();
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'harbor');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'harbor');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'harbor');
  }
}

export interface HarborPaths {
  home: string;
  config: string;
  database: string;
  logs: string;
  docs: string;
}

export function harborPaths(home: string = harborHome()): HarborPaths {
  return {
    home,
    config: join(home, 'config.json'),
    database: join(home, 'harbor.db'),
    logs: join(home, 'logs'),
    docs: join(home, 'docs'),
  };
}

export function ensureHome(paths: HarborPaths): void {
  mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  mkdirSync(paths.logs, { recursive: true });
}
