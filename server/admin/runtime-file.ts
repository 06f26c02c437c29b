import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a running host says it listens, so the CLI (`harbor status`) can find it. */
export interface HostRuntime {
  url: string;
  port: number;
  pid: number;
  startedAt: number;
}

const FILE = 'host.json';

export function writeHostRuntime(home: string, runtime: HostRuntime): void {
  const file = join(home, FILE);
  writeFileSync(file + '.tmp', JSON.stringify(runtime) + '\n', { mode: 0o600 });
  renameSync(file + '.tmp', file);
}

export function readHostRuntime(home: string): HostRuntime | null {
  try {
    return JSON.parse(readFileSync(join(home, FILE), 'utf8')) as HostRuntime;
  } catch {
    return null;
  }
}

export function removeHostRuntime(home: string, pid: number): void {
  if (readHostRuntime(home)?.pid === pid) rmSync(join(home, FILE), { force: true });
}
