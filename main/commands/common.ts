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

export interface ListOutput<T> {
  /** --json: the items as indented JSON, nothing else. */
  json: boolean;
  /** The line printed when there are no items, e.g. 'No activity recorded yet.'. */
  empty: string;
  header: string[];
  row: (item: T) => string[];
}

/** A list command's output: the items as JSON with --json, else the empty line, or a table of them. */
export function printList<T>(items: readonly T[], output: ListOutput<T>): 'json' | 'empty' | 'table' {
  if (output.json) {
    process.stdout.write(JSON.stringify(items, null, 2) + '\n');
    return 'json';
  }
  if (items.length === 0) {
    process.stdout.write(`${output.empty}\n`);
    return 'empty';
  }
  printTable([output.header, ...items.map(output.row)]);
  return 'table';
}

export const date = (ms: number | null): string => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');
