/**
 * What one echo call costs Harbor's host in each protocol era (issue 14), in machine instructions:
 * the host runs under valgrind's callgrind, so the count does not depend on the machine's load, unlike
 * CPU time (tens of percent between identical runs here). Use it to judge a change to either era's
 * path before `npm run bench -- eras` measures CPU; run the two eras side by side (one core each).
 *
 *   npm run bench -- instructions legacy|modern [--callers 1] [--calls 3000] [--warmup 6000] [--keep]
 *
 * --keep leaves the callgrind dump in its temporary folder (the JSON names it) for callgrind_annotate.
 *
 * Reads the built dist/ (bench/echo/measured-host.ts; `npm run bench` rebuilds it). Under
 * callgrind a warm call costs ~4.5 ms (early ones, before the JIT, ~12 ms): the defaults take ~2.5 min.
 * Prints JSON: instructions per call of the host's main thread (the event loop, inclusive: JS, V8's
 * runtime and builtins, libuv, llhttp, SQLite), and of the whole process (adds the collector's and
 * compiler's threads). Needs valgrind (Debian `valgrind`); writes only to a temporary folder.
 *
 * Measured 2026-12-02 (Node 24.22, 1 caller): main thread legacy 302.8 K, modern 333.4 K (+10 %). The
 * difference sits mostly in bytes the revision adds: JSON.parse of the request's `_meta` envelope
 * (+5.6 K), JSON.stringify of `resultType` and the `_meta` serverInfo the revision asks on every result
 * (+4 K), one more header to parse (+2 K), and the collector (+2.5 K); the modern path's own JS costs
 * about what the legacy path's session bookkeeping does.
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
    warmup: { type: 'string', default: '6000' },
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

/** The dump's inclusive instruction counts, one annotate pass; `of(symbol)` reads the line naming it. */
function inclusiveCounts(file: string): (symbol: string) => number {
  const lines = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { maxBuffer: 1 << 28 }).toString().split('\n');
  return (symbol) => {
    const match = /^\s*([\d,]+)/.exec(lines.find((l) => l.includes(symbol)) ?? '');
    if (!match) throw new Error(`${symbol} not in ${file}`);
    return Number(match[1]!.replaceAll(',', ''));
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
  const per = (symbol: string) => Math.round(count(symbol) / CALLS);
  console.log(
    JSON.stringify({
      era,
      callers: callers.length,
      calls: CALLS,
      mainThreadInstructionsPerCall: per('node::SpinEventLoopInternal'),
      processInstructionsPerCall: per('PROGRAM TOTALS'),
      ...(args.keep ? { dump } : {}),
    }),
  );
} finally {
  await Promise.all(callers.map((caller) => caller.close().catch(() => undefined)));
  child.kill('SIGKILL');
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
