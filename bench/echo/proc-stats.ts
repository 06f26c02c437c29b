import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * What the benches read of a process from /proc (Linux only, like the benches): its argv, its CPU time,
 * its `kB` memory fields. Synchronous on purpose: a reading lands at the moment it is taken, even while
 * the generator's event loop is saturated. Each answers an empty value once the process is gone (it may
 * exit between listing a tree and reading it).
 */

/** /proc counts CPU in clock ticks: USER_HZ, 100 on Linux (`getconf CLK_TCK`). */
const MS_PER_TICK = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100);

export function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * An upstream server process, or the shell a gateway wraps one in: not the gateway's own. By the script
 * node runs (argv[1]): supergateway and mcp-proxy name the upstream among their own arguments.
 */
export function isUpstream(argv: string[]): boolean {
  return /(^|\/)sh$/.test(argv[0] ?? '') || (argv[1] ?? '').includes('server-everything');
}

/** CPU ms (user + system) of one process so far, from /proc/<pid>/stat; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis (the command may hold spaces): state is the first, utime the 12th, stime the 13th.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return 0;
  }
}

/** The `Name:  123 kB` fields of a /proc file (status, smaps_rollup), as a lookup that answers 0 when the process is gone or the field absent. */
export function procKb(file: string): (name: string) => number {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // exited between listing and reading
  }
  return (name) => Number(text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
}
