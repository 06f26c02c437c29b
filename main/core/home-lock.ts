import { linkSync, openSync, readFileSync, renameSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One controller per HARBOR_HOME: `<home>/harbor.lock`, created exclusively ('wx') and holding the
 * owner's pid. A lock whose pid is no longer alive is stale and taken over, so a crashed or killed
 * `harbor serve` never blocks the next one: the lock dies with its process.
 *
 * Written by hand rather than with proper-lockfile: that library judges staleness by the lock's
 * mtime, which its holder refreshes on a timer. A crashed holder then blocks the home for the whole
 * stale period, a laptop waking from sleep can see its own live lock "compromised", and it records
 * no pid, which the "already running (pid N)" message needs. A pid liveness check has neither
 * problem; its known limit is pid reuse (a dead holder's pid given to an unrelated process keeps the
 * lock until that process ends), rare enough for a desktop tool and reported with the pid to kill.
 */
export const LOCK_FILE = 'harbor.lock';

export interface LockOwner {
  pid: number;
  startedAt: number;
}

export interface HomeLock {
  readonly file: string;
  /** Removes the lock if it is still ours; safe to call more than once. */
  release(): void;
}

export class HomeLockedError extends Error {
  override name = 'HomeLockedError';
  readonly owner: LockOwner;
  constructor(home: string, owner: LockOwner) {
    super(`Harbor is already running in ${home} (pid ${owner.pid})`);
    this.owner = owner;
  }
}

export interface AcquireOptions {
  pid?: number;
  now?: () => number;
  /** Whether a pid is a live process (injectable for tests). */
  isAlive?: (pid: number) => boolean;
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the home's lock or throws HomeLockedError naming the live owner. Writes nothing else. */
export function acquireHomeLock(home: string, options: AcquireOptions = {}): HomeLock {
  const file = join(home, LOCK_FILE);
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsAlive;
  const owner: LockOwner = { pid, startedAt: (options.now ?? Date.now)() };
  // Bounded: each round either creates the file, reports a live owner, or removes one stale file.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, owner)) return heldLock(file, pid);
    const current = readOwner(file);
    if (current === undefined) continue; // removed between our create and read: try again
    if (current !== null && current.pid !== pid && isAlive(current.pid)) throw new HomeLockedError(home, current);
    takeOverStale(file, home, current, isAlive);
  }
  throw new Error(`could not take ${file}: it keeps changing (another Harbor starting at the same time?)`);
}

/** The live owner of the home's lock, or null when none holds it. */
export function lockOwner(home: string, isAlive: (pid: number) => boolean = processIsAlive): LockOwner | null {
  const owner = readOwner(join(home, LOCK_FILE));
  return owner && isAlive(owner.pid) ? owner : null;
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The owner written in the file; null if unreadable or half-written (a crash mid-create); undefined if absent. */
function readOwner(file: string): LockOwner | null | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0 ? { pid: parsed.pid, startedAt: parsed.startedAt ?? 0 } : null;
  } catch {
    return null;
  }
}

/**
 * Moves a stale lock aside, atomically (rename), then checks that what was moved is the stale lock
 * we judged: if another starter took the lock over in between, its live lock is put back with
 * link(), which fails rather than overwrite a lock created meanwhile.
 */
function takeOverStale(file: string, home: string, judged: LockOwner | null, isAlive: (pid: number) => boolean): void {
  const aside = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = readOwner(aside);
    if (moved && moved.pid !== judged?.pid && isAlive(moved.pid)) {
      try {
        linkSync(aside, file);
      } catch {
        /* a third starter holds the lock now; the next round reads it */
      }
      throw new HomeLockedError(home, moved);
    }
  } finally {
    rmSync(aside, { force: true });
  }
}

function heldLock(file: string, pid: number): HomeLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (readOwner(file)?.pid === pid) rmSync(file, { force: true });
  };
  // A normal exit removes it; a crash leaves a file whose dead pid the next starter takes over.
  process.on('exit', release);
  return { file, release };
}
