/**
 * What one echo call costs Harbor's host in each protocol era (issue 14), in machine instructions:
 * the host runs under valgrind's callgrind, so the count does not depend on the machine's load, unlike
 * CPU time (tens of percent between identical runs here). Use it to judge a change to either era's
 * path before `npm run bench -- eras` measures CPU; run the two eras side by side (one core each).
 *
 *   npm run bench -- instructions legacy|modern [--callers 1] [--calls 3000] [--warmup 25000] [--keep]
 *
 * --keep leaves the callgrind dump in its temporary folder (the JSON names it) for callgrind_annotate.
 *
 * Reads the built dist/ (bench/echo/measured-host.ts; `npm run bench` rebuilds it). Under
 * callgrind a warm call costs ~4.5 ms (early ones, before the JIT, ~12 ms): the defaults take ~10 min
 * (both eras side by side). The warm-up is long because V8's optimising compilers otherwise still run
 * in the window: after 6,000 calls their jobs were 57-62 K instructions per call, and code not yet
 * optimised made the same era read 293 K in one run and 370 K in the next; after 25,000, 8-13 K.
 * Prints JSON: instructions per call of the host's main thread (the event loop, inclusive: JS, V8's
 * runtime and builtins, libuv, llhttp, SQLite), of the whole process (adds the collector's and
 * compilers' threads, which still swing by ±50 K between runs: read the main thread), and of the
 * compilers' jobs. Needs valgrind (Debian `valgrind`); writes only to a temporary folder.
 *
 * Measured 2026-12-02 (Node 24.22, 1 caller, two runs): main thread legacy 282.5 K and 289.0 K, modern
 * 300.7 K and 305.9 K (+6 %). Of the +18 K, JSON.parse is +7.1 K and JSON.stringify +4.2 K: the bytes
 * the revision adds (the request's `_meta` envelope, `resultType` and the serverInfo it asks on every
 * result); the rest of the main thread's work (HTTP, Harbor's JS, the collector) +6.9 K (+2.7 %).
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serverUrl } from '../server/access/server-url.ts';
import { callEcho, type EchoCaller } from './echo/call-echo.ts';
import { McpHttpSession } from './echo/mcp-http-session.ts';
import { McpModernCaller } from './echo/mcp-modern-caller.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    callers: { type: 'string', default: '1' },
    calls: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '25000' },
    keep: { type: 'boolean', default: false },
  },
});
const era = positionals[0];
if (era !== 'legacy' && era !== 'modern') throw new Error('usage: node bench/instructions-per-call.ts legacy|modern [--callers N] [--calls N] [--warmup N] [--keep]');
const CALLS = Number(args.calls);

const dir = mkdtempSync(join(tmpdir(), 'harbor-callgrind-'));
const child = fork(new URL('./echo/measured-host.ts', import.meta.url), {
  execPath: 'valgrind',
  execArgv: ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'cg.%p')}`, process.execPath, '--max-semi-space-size=2'],
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});

/**
 * The dump's inclusive instruction counts, one annotate pass; `of(symbol)` reads the line naming it
 * (absent: an error, or 0 when `optional`, for work that may not have run in the window).
 */
function inclusiveCounts(file: string): (symbol: string, optional?: boolean) => number {
  const lines = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { maxBuffer: 1 << 28 }).toString().split('\n');
  return (symbol, optional = false) => {
    const match = /^\s*([\d,]+)/.exec(lines.find((l) => l.includes(symbol)) ?? '');
    if (match) return Number(match[1]!.replaceAll(',', ''));
    if (optional) return 0;
    throw new Error(`${symbol} not in ${file}`);
  };
}

const callers: EchoCaller[] = [];
try {
  const ready = (await new Promise((resolve) => child.once('message', resolve))) as { url: string; token: string };
  const target = { url: serverUrl(ready.url, 'everything'), headers: { authorization: `Bearer ${ready.token}` } };
  for (let i = 0; i < Number(args.callers); i++) {
    const caller = era === 'legacy' ? new McpHttpSession(target) : new McpModernCaller(target);
    callers.push(caller);
    await caller.open();
  }
  await callEcho(callers, era, Number(args.warmup));
  execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
  await callEcho(callers, era, CALLS);
  execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
  const dump = join(dir, readdirSync(dir).filter((f) => /^cg\.\d+\.\d+$/.test(f)).sort().at(-1)!);
  const count = inclusiveCounts(dump);
  const per = (symbol: string, optional?: boolean) => Math.round(count(symbol, optional) / CALLS);
  console.log(
    JSON.stringify({
      era,
      callers: callers.length,
      calls: CALLS,
      mainThreadInstructionsPerCall: per('node::SpinEventLoopInternal'),
      processInstructionsPerCall: per('PROGRAM TOTALS'),
      // The optimising compilers' jobs (background threads): still running in the window they are JIT
      // warm-up, not per-call work; they made the whole-process figure swing by 100 K between runs.
      compilerInstructionsPerCall: per('PipelineCompilationJob::ExecuteJobImpl', true) + per('MaglevCompilationJob::ExecuteJobImpl', true),
      ...(args.keep ? { dump } : {}),
    }),
  );
} finally {
  await Promise.all(callers.map((caller) => caller.close().catch(() => undefined)));
  child.kill('SIGKILL');
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
