import { readAdminSecret } from '../../server/admin/admin-secret.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';
import { acquireHomeLock, HomeLockedError, type HomeLock, type LockOwner } from './home-lock.ts';

/**
 * How the tray app comes to a home: it owns it (the lock taken before anything is written, then its
 * own HostController), or a `harbor serve` already runs there and the app attaches to it.
 *
 * Attach rather than refuse: the app and `harbor serve` are two faces of one controller, so a user who
 * started `harbor serve` in a terminal and then opens the app wants the tray to show that Harbor, not a
 * red icon telling them to stop it. Attached, the app is a window on the running host's admin API
 * (its URL in host.json, its secret in admin.secret): health, the popover, sharing (the host forwards
 * share requests to its own controller), the dashboard. It never restarts or stops what it did not
 * start, and when that `harbor serve` ends the app starts over and owns the home.
 */
export type AppHome =
  | { mode: 'own'; lock: HomeLock }
  | { mode: 'attached'; owner: LockOwner; url: string; secret: string }
  /** Held by a Harbor that has not written its URL yet (starting), or one whose files are unreadable. */
  | { mode: 'busy'; owner: LockOwner; message: string };

export function claimAppHome(home: string, options: { pid?: number; isAlive?: (pid: number) => boolean } = {}): AppHome {
  try {
    return { mode: 'own', lock: acquireHomeLock(home, options) };
  } catch (error) {
    if (!(error instanceof HomeLockedError)) throw error;
    const runtime = readHostRuntime(home);
    const secret = readAdminSecret(home);
    if (runtime && secret) return { mode: 'attached', owner: error.owner, url: runtime.url, secret };
    return {
      mode: 'busy',
      owner: error.owner,
      message: `Harbor is already running in ${home} (pid ${error.owner.pid}) and has not said where it listens yet`,
    };
  }
}

/** The tray's one line about the home when the app does not own it; null when it does. */
export function appHomeNote(home: AppHome): string | null {
  if (home.mode === 'own') return null;
  if (home.mode === 'busy') return home.message;
  return `Attached to harbor serve (pid ${home.owner.pid}) at ${home.url}; quitting the app leaves it running`;
}
