/**
 * Echo through Harbor in both protocol eras (issue 14): tools/call `echo` of server-everything over
 *   - 2025-11-25 sessions (initialize, Mcp-Session-Id on every call: the session is looked up), and
 *   - 2026-07-28 requests (no session: the `_meta` envelope and the standard headers on every call),
 * against one `harbor serve` (the built dist/, one shared upstream), with 1 caller and N (default 25).
 * Reports per era and caller count the throughput, latency, and the CPU time per call of Harbor's own
 * processes (the serve supervisor and the host; the upstream apart), from /proc over the whole run,
 * warm-up included, divided by every call made in it; and the modern/legacy ratio of that cost.
 *
 *   node bench/echo-eras.ts [--duration 6] [--warmup 2] [--clients 25] [--rounds 3] [--only legacy|modern] [--out FILE]
 *                           [--harbor-node-options "--cpu-prof --cpu-prof-dir=/tmp/prof"]
 *
 * The eras alternate in order round by round; the median round is reported, all rounds are kept. The
 * machine's speed drifts over a run here (the same era's CPU per call moved by 1.8x between rounds of one
 * run, 2026-12-02), more than the eras differ: the median of each round's own modern/legacy ratio
 * (`pairedCpuRatio`, the two eras back to back, their order swapped every round) cancels the drift that
 * the ratio of the two medians (`cpuPerCallRatio`) keeps.
 * Writes bench/results/echo-eras.json (not with --only or --harbor-node-options unless --out is given).
 */
import { cpus, loadavg, release } from 'node:os';
import { parseArgs } from 'node:util';
import { listDescendants } from '../server/supervision/process-tree.ts';
import { ratio, reportPath, writeReport } from './echo/bench-report.ts';
import { argvOf, isUpstream, processCpuMs } from './echo/proc-stats.ts';
import { runClosedLoop, type LoadResult } from './echo/closed-loop.ts';
import { runBenchMain, startGateway, type RunningGateway } from './echo/gateways.ts';
import { checkEcho, McpHttpSession } from './echo/mcp-http-session.ts';
import { McpModernCaller } from './echo/mcp-modern-caller.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    clients: { type: 'string', default: '25' },
    rounds: { type: 'string', default: '3' },
    /** One era only (legacy or modern), e.g. to profile it alone with --harbor-node-options. */
    only: { type: 'string' },
    out: { type: 'string' },
    'harbor-node-options': { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const CLIENTS = Number(args.clients);
const ROUNDS = Math.max(1, Number(args.rounds));
const MAX_CALLS_PER_CALLER = 200_000;

type Era = 'legacy' | 'modern';

interface Caller {
  open(): Promise<void>;
  callTool(name: string, args: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

interface EraRun extends LoadResult {
  era: Era;
  round: number;
  /** Calls made over the whole run, warm-up included: the divisor of the CPU figures. */
  allCalls: number;
  harborCpuMsPerCall: number;
  upstreamCpuMsPerCall: number;
}

/** Harbor's own processes (the serve supervisor and its host) and the upstream's, CPU so far. */
async function treeCpu(root: number): Promise<{ harbor: number; upstream: number }> {
  const pids = [root, ...(await listDescendants(root))];
  let harbor = 0;
  let upstream = 0;
  for (const pid of pids) {
    if (isUpstream(argvOf(pid))) upstream += processCpuMs(pid);
    else harbor += processCpuMs(pid);
  }
  return { harbor, upstream };
}

async function runEra(gateway: RunningGateway, era: Era, callers: number, round: number): Promise<EraRun> {
  const opened: Caller[] = [];
  try {
    // One at a time, as teammates arrive.
    for (let i = 0; i < callers; i++) {
      const caller: Caller = era === 'legacy' ? new McpHttpSession(gateway.target) : new McpModernCaller(gateway.target);
      opened.push(caller);
      await caller.open();
    }
    let allCalls = 0;
    const before = await treeCpu(gateway.pid);
    const result = await runClosedLoop(
      async (index, seq) => {
        const message = `${era}-${index}-${seq}`;
        checkEcho(await opened[index]!.callTool('echo', { message }), message);
        allCalls++;
      },
      { callers, warmupMs: WARMUP_MS, durationMs: DURATION_MS, maxCallsPerCaller: MAX_CALLS_PER_CALLER },
    );
    const after = await treeCpu(gateway.pid);
    const per = (ms: number) => Math.round((ms / Math.max(1, allCalls)) * 10_000) / 10_000;
    return { era, round, ...result, allCalls, harborCpuMsPerCall: per(after.harbor - before.harbor), upstreamCpuMsPerCall: per(after.upstream - before.upstream) };
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
  }
}

/** Each round's modern/legacy CPU per call at `callers`, rounded to 3 places, in round order. */
function pairedCpuRatios(runs: EraRun[], callers: number): number[] {
  const ratios: number[] = [];
  for (const legacy of runs.filter((r) => r.era === 'legacy' && r.callers === callers)) {
    const modern = runs.find((r) => r.era === 'modern' && r.callers === callers && r.round === legacy.round);
    const paired = ratio(modern?.harborCpuMsPerCall, legacy.harborCpuMsPerCall, 3);
    if (paired !== null) ratios.push(paired);
  }
  return ratios;
}

function median<T>(runs: T[], by: (run: T) => number): T {
  return [...runs].sort((a, b) => by(a) - by(b))[Math.floor((runs.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const gateway = await startGateway('harbor', { nodeOptions: args['harbor-node-options'] });
  const runs: EraRun[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const eras = (round % 2 === 1 ? (['legacy', 'modern'] as const) : (['modern', 'legacy'] as const)).filter((era) => !args.only || era === args.only);
      // Callers outside, eras inside: the two runs a paired ratio compares come back to back.
      for (const callers of [1, CLIENTS]) {
        for (const era of eras) {
          const run = await runEra(gateway, era, callers, round);
          runs.push(run);
          process.stderr.write(
            `round ${round} ${era.padEnd(6)} ${String(callers).padStart(3)} caller(s): ${run.throughputPerSecond} calls/s, p50 ${run.latencyMs.p50} ms, ` +
              `Harbor ${run.harborCpuMsPerCall} ms CPU/call, upstream ${run.upstreamCpuMsPerCall}, ${run.allCalls} calls, errors ${run.errors}\n`,
          );
        }
      }
    }
  } finally {
    await gateway.stop();
  }

  const summary = args.only ? [] : [1, CLIENTS].map((callers) => {
    const pick = (era: Era) => median(runs.filter((r) => r.era === era && r.callers === callers), (r) => r.harborCpuMsPerCall);
    const legacy = pick('legacy');
    const modern = pick('modern');
    const pairedRatios = pairedCpuRatios(runs, callers);
    const brief = (r: EraRun) => ({ throughputPerSecond: r.throughputPerSecond, latencyMs: r.latencyMs, harborCpuMsPerCall: r.harborCpuMsPerCall, upstreamCpuMsPerCall: r.upstreamCpuMsPerCall, errors: r.errors, round: r.round });
    return {
      callers,
      legacy: brief(legacy),
      modern: brief(modern),
      /** Harbor's CPU per call, modern over legacy (below 1: the modern era costs less). */
      cpuPerCallRatio: ratio(modern.harborCpuMsPerCall, legacy.harborCpuMsPerCall, 3),
      /** The median of the rounds' own modern/legacy ratios (drift cancelled), and the ratios round by round. */
      pairedCpuRatio: median(pairedRatios, (r) => r),
      pairedRatios,
      throughputRatio: ratio(modern.throughputPerSecond, legacy.throughputPerSecond, 3),
    };
  });
  const report = {
    benchmark: 'echo through Harbor, 2025-11-25 sessions vs 2026-07-28 requests',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), node: process.version, loadAverageAfter: loadavg() },
    settings: { durationMs: DURATION_MS, warmupMs: WARMUP_MS, clients: CLIENTS, rounds: ROUNDS, harborNodeOptions: args['harbor-node-options'] ?? null },
    command: gateway.command,
    method: 'closed loop; Harbor CPU = utime+stime of the serve supervisor and host (/proc), over the whole run divided by every call; median round per era, and the median of the rounds\' own ratios',
    summary,
    runs,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const out = reportPath(args, 'echo-eras.json');
  if (out) {
    writeReport(out, report);
    process.stderr.write(`wrote ${out}\n`);
  }
}

await runBenchMain(main);
