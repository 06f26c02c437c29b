import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SOURCE = /\.(ts|cts|mts)$/;

/** The TypeScript sources below `dir` (no declaration files, node_modules, dist or dot-folders). */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** A path relative to `root`, `/`-separated on every platform: `server/http/host-server.ts`. */
export const projectPath = (root: string, path: string): string => relative(root, path).split(sep).join('/');
