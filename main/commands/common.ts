import { ensureHome, harborHome, harborPaths, type HarborPaths } from '../../server/harbor-home.ts';

/** A mistake in how the command was called: exit 2 with the message, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function homePaths(): HarborPaths {
  const paths = harborPaths(harborHome());
  ensureHome(paths);
  return paths;
}

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
}

export const date = (ms: number | null): string => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');
