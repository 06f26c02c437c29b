import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from './load-config.ts';

/**
 * Changes config.json in place for the app's "add server" and "pick folder": the user's own fields
 * and values stay as written (no defaults are filled in), and the write is atomic (temp + rename),
 * so a crash mid-write cannot leave a truncated file.
 */
export function editConfig(
  file: string,
  change: (json: Record<string, unknown>) => void,
  /** The content to start from when there is no file yet (what the defaults meant). */
  initial: Record<string, unknown> = {},
): void {
  let json: Record<string, unknown> = { ...initial };
  if (existsSync(file)) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(file, [`not valid JSON, not changing it: ${(error as Error).message}`]);
    }
  }
  change(json);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(json, null, 2) + '\n', { mode: 0o600 });
  renameSync(temp, file);
}
