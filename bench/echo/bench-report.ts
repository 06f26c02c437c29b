import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './gateways.ts';

/** What a bench's report says of its run, and where bench/results/ keeps it. */

/** The commit measured, and whether Harbor's source had uncommitted changes (others work in this tree). */
export function gitHead(): { commit: string; dirtyHarborFiles: string[] } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'main', 'server'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return { commit, dirtyHarborFiles: dirty };
  } catch {
    return null;
  }
}

/** a / b to `decimals` places (two unless said) for a report's ratios; null where either side is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined, decimals = 2): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  const scale = 10 ** decimals;
  return Math.round((a / b) * scale) / scale;
}

export interface ReportArgs {
  out?: string | undefined;
  only?: string | undefined;
  'harbor-node-options'?: string | undefined;
}

/**
 * Where a bench writes its report: --out if given, else bench/results/<name>, but nothing for a run of
 * some targets only (--only) or a profiled one (--harbor-node-options): those are not the reference numbers.
 */
export function reportPath(args: ReportArgs, name: string): string | undefined {
  if (args.out) return args.out;
  return args.only || args['harbor-node-options'] ? undefined : resultsPath(name);
}

/** bench/results/<name>: where each bench's reference report is kept (and committed). */
export function resultsPath(name: string): string {
  return join(ROOT, 'bench', 'results', name);
}

/** Writes the report as bench/results/ keeps them: two-space JSON and a final newline, its folder made first. */
export function writeReport(out: string, report: unknown): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
}
