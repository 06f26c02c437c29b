import { spawn } from 'node:child_process';
import { readAdminSecret } from '../../server/admin/admin-secret.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';
import { AdminClient } from '../core/admin-client.ts';
import { dashboardUrl } from '../core/dashboard-url.ts';
import { homePaths, UsageError } from './common.ts';

/** The running host's dashboard link, or null when no host answers under this home. */
export async function runningDashboardUrl(home: string): Promise<string | null> {
  if (!(await AdminClient.connect(home))) return null;
  const runtime = readHostRuntime(home);
  const secret = readAdminSecret(home);
  return runtime && secret ? dashboardUrl(runtime.port, secret) : null;
}

export async function dashboard(args: string[]): Promise<void> {
  if (args.length > 0) throw new UsageError(`harbor dashboard takes no arguments (got "${args[0]}")`);
  const home = homePaths().home;
  const url = await runningDashboardUrl(home);
  if (!url) throw new UsageError(`Harbor is not running (HARBOR_HOME ${home}). Start it first: harbor serve`);
  const opener = browserOpener(process.platform);
  if (await openWith(opener.command, [...opener.args, url])) {
    process.stdout.write('Opened the dashboard in your browser.\n');
    return;
  }
  process.stdout.write(`No browser opener (${opener.command}) worked here; open this link on this machine:\n  ${url}\n`);
}

export function browserOpener(platform: NodeJS.Platform): { command: string; args: string[] } {
  if (platform === 'darwin') return { command: 'open', args: [] };
  // `start` is a cmd built-in; its first quoted argument is a window title, hence the empty one.
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""'] };
  return { command: 'xdg-open', args: [] };
}

/**
 * True when the opener ran and exited 0, or is still running after a few seconds (some hand the
 * URL to a browser they keep in the foreground). False when it is missing or failed (xdg-open
 * without a desktop exits non-zero).
 */
function openWith(command: string, args: string[], waitMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: process.platform !== 'win32' });
    const timer = setTimeout(() => {
      child.unref();
      resolve(true);
    }, waitMs);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}
