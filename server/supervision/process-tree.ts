import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pidusage from 'pidusage';
import treeKill from 'tree-kill';

/**
 * The process tree under a supervised child: who belongs to it, how much memory it holds, and how to end all of it.
 * `npx`, shells and Python launchers start children of their own; a supervisor that only watches and kills the
 * direct child under-counts memory and leaves orphans behind, so everything here works on the whole tree.
 */

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Process group id; a child spawned with `detached: true` on POSIX leads a group whose id is its pid. */
  pgid: number;
  /** One-letter state (`R`, `S`, `Z` …); a zombie has exited and only waits for its parent to reap it. */
  state: string;
}

const isWindows = process.platform === 'win32';
const isLinux = process.platform === 'linux';

/** Every process on the machine (Linux: /proc; other POSIX: `ps`). Windows: empty, callers fall back to tree-kill. */
export async function readProcessTable(): Promise<ProcessEntry[]> {
  if (isWindows) return [];
  return isLinux ? readProcTable() : readPsTable();
}

async function readProcTable(): Promise<ProcessEntry[]> {
  const names = await readdir('/proc');
  const reads = names
    .filter((name) => /^\d+$/.test(name))
    .map(async (name) => {
      try {
        return parseProcStat(await readFile(`/proc/${name}/stat`, 'utf8'));
      } catch {
        return null; // exited between readdir and read
      }
    });
  return (await Promise.all(reads)).filter((entry): entry is ProcessEntry => entry !== null);
}

/** Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses, so fields start after the last `)`. */
export function parseProcStat(text: string): ProcessEntry | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(ppid) || !Number.isInteger(pgid)) return null;
  return { pid, ppid, pgid, state };
}

function readPsTable(): Promise<ProcessEntry[]> {
  return new Promise((resolve) => {
    execFile('ps', ['-A', '-o', 'pid=,ppid=,pgid=,stat='], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (error) return resolve([]);
      const entries: ProcessEntry[] = [];
      for (const line of stdout.split('\n')) {
        const [pid, ppid, pgid, stat] = line.trim().split(/\s+/);
        if (!pid || !ppid || !pgid || !stat) continue;
        entries.push({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state: stat.charAt(0) });
      }
      resolve(entries);
    });
  });
}

/** Pids below `root` by parent links (breadth first), zombies excluded. The root itself is not included. */
export function descendantsIn(table: readonly ProcessEntry[], root: number): number[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid);
    if (list) list.push(entry);
    else children.set(entry.ppid, [entry]);
  }
  const found: number[] = [];
  const seen = new Set<number>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const child of children.get(parent) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      queue.push(child.pid);
      if (child.state !== 'Z') found.push(child.pid);
    }
  }
  return found;
}

/** Descendants of `pid` (not including it). Windows: always empty (memory is then the direct child's alone). */
export async function listDescendants(pid: number): Promise<number[]> {
  if (isLinux) {
    const walked = walkChildren(pid);
    if (walked !== null) return walked;
  }
  return descendantsIn(await readProcessTable(), pid);
}

/**
 * Linux: descendants from `/proc/<pid>/task/<tid>/children`, which costs a few reads per process in the tree
 * instead of one per process on the machine. Synchronous on purpose: the memory watchdog samples often, and a
 * scan made of hundreds of thread-pool hops lags badly on a loaded machine, while these reads take microseconds.
 * Null when the kernel lacks CONFIG_PROC_CHILDREN (then the caller scans the whole table).
 */
export function walkChildren(root: number): number[] | null {
  const found: number[] = [];
  const seen = new Set<number>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch (error) {
        if (pid === root && (error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(`/proc/${pid}/task/${tid}`)) {
          return null;
        }
        continue;
      }
      for (const word of text.split(' ')) {
        const child = Number.parseInt(word, 10);
        if (!Number.isInteger(child) || seen.has(child)) continue;
        seen.add(child);
        queue.push(child);
        found.push(child);
      }
    }
  }
  return found;
}

/**
 * Live members of the tree rooted at `root`: the root, its descendants, and (when `group`) every member of the
 * process group `root` leads — which catches grandchildren already orphaned by a parent that died.
 */
export function treeMembersIn(table: readonly ProcessEntry[], root: number, group: boolean): number[] {
  const members = new Set<number>(descendantsIn(table, root));
  for (const entry of table) {
    if (entry.state === 'Z') continue;
    if (entry.pid === root || (group && entry.pgid === root)) members.add(entry.pid);
  }
  return [...members];
}

export interface TreeMemory {
  rssBytes: number;
  /** Pids that were measured (root first); empty when the root is gone. */
  pids: number[];
}

/** Resident memory of `pid` and all its descendants, summed. A process that exits mid-sample just counts as 0. */
export async function treeRss(pid: number, withDescendants = true): Promise<TreeMemory> {
  const pids = withDescendants ? [pid, ...(await listDescendants(pid))] : [pid];
  let stats: Record<string, pidusage.Status | undefined>;
  try {
    stats = await pidusage(pids);
  } catch {
    return { rssBytes: 0, pids: [] }; // only possible for a single pid, i.e. the root alone and it is gone
  }
  let rssBytes = 0;
  const measured: number[] = [];
  for (const p of pids) {
    const stat = stats[p];
    if (!stat) continue;
    rssBytes += stat.memory;
    measured.push(p);
  }
  return { rssBytes, pids: measured };
}

/** True while `pid` runs. A zombie counts as gone: it has exited, only its parent has not reaped it yet. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!isLinux) return true;
  // Synchronous so isAlive() works in exit handlers and assertions; a /proc read never blocks.
  try {
    const entry = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return entry !== null && entry.state !== 'Z';
  } catch {
    return false;
  }
}

/** Sends `signal` to one pid, or to a whole process group when `pid` is negative; a process already gone is fine. */
export function sendSignal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // ESRCH: already gone; EPERM: not ours (a reused pid), leave it alone
  }
}

export interface KillTreeOptions {
  /** How long the tree may take to exit after SIGTERM before everything left gets SIGKILL. */
  graceMs: number;
  /** The root was spawned as a process-group leader (`detached: true` on POSIX): also signal the group. */
  group: boolean;
  /** How long to wait for SIGKILL to take effect before giving up (a process in uninterruptible sleep). */
  killWaitMs?: number;
  pollMs?: number;
}

export interface KillTreeResult {
  /** SIGKILL was needed: something in the tree outlived the grace period. */
  forced: boolean;
  /** Every pid seen in the tree while killing it. */
  pids: number[];
  /** Pids still alive when we gave up (normally empty). */
  survivors: number[];
  elapsedMs: number;
}

/**
 * SIGTERM to the whole tree → wait up to `graceMs` → SIGKILL to whatever is left, including grandchildren orphaned
 * on the way (they keep the group id, and pids seen earlier are remembered). On Windows there is no SIGTERM for
 * console programs, so the tree is ended at once with `taskkill /T /F` (tree-kill).
 */
export async function killTree(root: number, options: KillTreeOptions): Promise<KillTreeResult> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 50;
  const killWaitMs = options.killWaitMs ?? 2_000;
  if (isWindows) return killTreeWindows(root, started, pollMs, options.graceMs + killWaitMs);

  const known = new Set<number>();
  const liveMembers = async (): Promise<number[]> => {
    for (const pid of treeMembersIn(await readProcessTable(), root, options.group)) known.add(pid);
    return [...known].filter(isAlive);
  };

  const sendAll = async (sig: NodeJS.Signals): Promise<void> => {
    const members = await liveMembers();
    if (options.group) sendSignal(-root, sig);
    for (const pid of members) sendSignal(pid, sig);
  };

  await sendAll('SIGTERM');
  let remaining = await waitUntilGone(liveMembers, started + options.graceMs, pollMs);
  let forced = false;
  if (remaining.length > 0) {
    forced = true;
    await sendAll('SIGKILL');
    remaining = await waitUntilGone(liveMembers, Date.now() + killWaitMs, pollMs);
  }
  return { forced, pids: [...known], survivors: remaining, elapsedMs: Date.now() - started };
}

async function waitUntilGone(live: () => Promise<number[]>, deadline: number, pollMs: number): Promise<number[]> {
  for (;;) {
    const remaining = await live();
    if (remaining.length === 0 || Date.now() >= deadline) return remaining;
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

async function killTreeWindows(root: number, started: number, pollMs: number, waitMs: number): Promise<KillTreeResult> {
  await new Promise<void>((resolve) => treeKill(root, 'SIGKILL', () => resolve()));
  const remaining = await waitUntilGone(async () => (isAlive(root) ? [root] : []), Date.now() + waitMs, pollMs);
  return { forced: true, pids: [root], survivors: remaining, elapsedMs: Date.now() - started };
}
