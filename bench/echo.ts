/**
 * Echo benchmark (issue 3): tools/call `echo` of server-everything round trips, side by side, through
 *   - direct stdio (the SDK client on one stdio connection: the floor every gateway adds to),
 *   - Harbor (`harbor serve`, one shared upstream),
 *   - supergateway --stateful (one upstream per session),
 *   - mcp-proxy (one shared upstream),
 * each gateway a separate child process, run one after another, with 1 client and then N concurrent
 * sessions (default 25). Gateway load comes from the same lean raw-HTTP client (bench/echo/
 * mcp-http-session.ts) so the comparison is fair. Reports throughput, latency percentiles, errors and
 * RSS of the gateway's whole process tree with the N sessions open.
 *
 *   node bench/echo.ts [--duration 6] [--warmup 2] [--clients 25] [--rounds 2] [--only harbor,supergateway,...] [--out FILE]
 *                      [--harbor-node-options "--cpu-prof --cpu-prof-dir=/tmp/prof"]
 *
 * Every target runs once per round (order reversed on alternate rounds); each target's best round is
 * reported, all rounds are kept. Writes bench/results/echo.json (not with --only or
 * --harbor-node-options unless --out is given).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import pidusage from 'pidusage';
import { listDescendants } from '../server/supervision/process-tree.ts';
import { gitHead, ratio, reportPath, writeReport } from './echo/bench-report.ts';
import { runClosedLoop, type LoadOptions, type LoadResult } from './echo/closed-loop.ts';
import { EVERYTHING, ROOT, runBenchMain, startGateway, type GatewayName, type RunningGateway } from './echo/gateways.ts';
import { argvOf, isUpstream, procKb } from './echo/proc-stats.ts';
import { checkEcho, closeSessions, McpHttpSession, openSessions } from './echo/mcp-http-session.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    clients: { type: 'string', default: '25' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string' },
    /** NODE_OPTIONS for Harbor's process tree, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
    'harbor-node-options': { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const CLIENTS = Number(args.clients);
const ROUNDS = Math.max(1, Number(args.rounds));
const MAX_CALLS_PER_CALLER = 200_000;
const GATEWAYS: GatewayName[] = ['harbor', 'harbor-no-metrics', 'supergateway', 'mcp-proxy'];
const TARGETS = args.only ? args.only.split(',') : ['direct', ...GATEWAYS];
const MB = 1024 * 1024;
const SETTLE_MS = 5_000;

interface TreeSample {
  /** The whole tree: the gateway process and every descendant. */
  rssMb: number;
  /** The gateway process alone. */
  gatewayRssMb: number;
  /** The gateway's own processes (Harbor: the `harbor serve` supervisor and its host child), upstreams excluded. */
  gatewayOwnRssMb: number;
  /** The upstream server processes (and the shells some gateways wrap them in). */
  upstreamRssMb: number;
  /** Its descendants (the upstream servers) together. */
  childrenRssMb: number;
  /**
   * Proportional set size over the tree: shared pages (the node binary, mapped by every node process)
   * split between the processes that map them, so N upstreams are not charged N times for one binary.
   */
  pssMb: number;
  /** The gateway process's anonymous (heap, not file-backed) resident memory. */
  gatewayAnonMb: number;
  /** Each process of the tree (root first), when asked for. */
  perProcess?: Array<{ pid: number; command: string; rssMb: number; anonMb: number; pssMb: number }>;
  processes: number;
  /** Processes below the gateway: the upstreams it spawned (and any shell wrappers). */
  childProcesses: number;
}

interface TargetResult {
  name: string;
  command?: string;
  oneClient: LoadResult;
  manyClients: LoadResult & { sessionSetupMs?: number };
  idle?: TreeSample;
  /** The N sessions open, before any call. */
  manySessionsBeforeLoad?: TreeSample;
  /** Right after the N-session run, sessions still open: the number the targets use. */
  afterManySessions?: TreeSample;
  loadAverageBefore?: number[];
  /** SETTLE_MS later, sessions still open and idle. */
  manySessionsSettled?: TreeSample;
  peakDuringManySessions?: TreeSample;
}

function loadOptions(callers: number): LoadOptions {
  return { callers, warmupMs: WARMUP_MS, durationMs: DURATION_MS, maxCallsPerCaller: MAX_CALLS_PER_CALLER };
}

async function sampleTree(pid: number, perProcess = true): Promise<TreeSample> {
  const descendants = await listDescendants(pid);
  const stats = await pidusage([pid, ...descendants]);
  const rss = (p: number) => stats[p]?.memory ?? 0;
  const childrenBytes = descendants.reduce((sum, p) => sum + rss(p), 0);
  const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;
  const upstream = (p: number) => isUpstream(argvOf(p));
  const upstreamBytes = [pid, ...descendants].filter(upstream).reduce((sum, p) => sum + rss(p), 0);
  const pss = [pid, ...descendants].reduce((sum, p) => sum + procKb(`/proc/${p}/smaps_rollup`)('Pss'), 0);
  return {
    rssMb: mb(rss(pid) + childrenBytes),
    gatewayRssMb: mb(rss(pid)),
    childrenRssMb: mb(childrenBytes),
    gatewayOwnRssMb: mb(Math.max(0, rss(pid) + childrenBytes - upstreamBytes)),
    upstreamRssMb: mb(upstreamBytes),
    pssMb: mb(pss * 1024),
    gatewayAnonMb: mb(procKb(`/proc/${pid}/status`)('RssAnon') * 1024),
    ...(perProcess
      ? {
          perProcess: [pid, ...descendants].map((p) => ({
            pid: p,
            command: commandOf(p),
            rssMb: mb(rss(p)),
            anonMb: mb(procKb(`/proc/${p}/status`)('RssAnon') * 1024),
            pssMb: mb(procKb(`/proc/${p}/smaps_rollup`)('Pss') * 1024),
          })),
        }
      : {}),
    processes: 1 + descendants.length,
    childProcesses: descendants.length,
  };
}

/** The command line, paths shortened to the project root, for telling processes of a tree apart. */
function commandOf(pid: number): string {
  try {
    const argv = argvOf(pid);
    return argv
      .join(' ')
      .replaceAll(process.execPath, 'node')
      .replaceAll(ROOT, '')
      .replace(/--home \S+/, '--home <tmp>')
      .slice(0, 160);
  } catch {
    return '?';
  }
}

async function benchDirect(): Promise<TargetResult> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' });
  const client = new Client({ name: 'harbor-bench', version: '1.0.0' });
  await client.connect(transport);
  try {
    const call = async (caller: number, seq: number) => {
      const message = `c${caller}-${seq}`;
      checkEcho(await client.callTool({ name: 'echo', arguments: { message } }), message);
    };
    const oneClient = await runClosedLoop(call, loadOptions(1));
    const manyClients = await runClosedLoop(call, loadOptions(CLIENTS));
    const upstream = transport.pid ? await sampleTree(transport.pid) : undefined;
    return {
      name: 'direct-stdio',
      command: `SDK Client + StdioClientTransport; ${CLIENTS} concurrent in-flight calls on ONE stdio connection`,
      oneClient,
      manyClients,
      ...(upstream ? { afterManySessions: upstream } : {}),
    };
  } finally {
    await client.close();
  }
}

function httpCall(sessions: McpHttpSession[]) {
  return async (caller: number, seq: number) => {
    const message = `c${caller}-${seq}`;
    checkEcho(await (sessions[caller] as McpHttpSession).callTool('echo', { message }), message);
  };
}

async function benchGateway(name: GatewayName): Promise<TargetResult> {
  const nodeOptions = name === 'harbor' ? args['harbor-node-options'] : undefined;
  const gateway: RunningGateway = await startGateway(name, { nodeOptions });
  try {
    const idle = await sampleTree(gateway.pid);

    const single = await openSessions(gateway.target, 1);
    const oneClient = await runClosedLoop(httpCall(single), loadOptions(1));
    await closeSessions(single);

    const setupStart = performance.now();
    const sessions = await openSessions(gateway.target, CLIENTS);
    const sessionSetupMs = Math.round(performance.now() - setupStart);
    const manySessionsBeforeLoad = await sampleTree(gateway.pid);
    let peak: TreeSample | undefined;
    const sampler = setInterval(() => {
      void sampleTree(gateway.pid, false).then((s) => {
        if (!peak || s.rssMb > peak.rssMb) peak = s;
      });
    }, 2_000);
    let manyClients: LoadResult;
    try {
      manyClients = await runClosedLoop(httpCall(sessions), loadOptions(CLIENTS));
    } finally {
      clearInterval(sampler);
    }
    const afterManySessions = await sampleTree(gateway.pid);
    // Node gives memory back lazily; a sample after a quiet spell separates garbage from what is held.
    await sleep(SETTLE_MS);
    const manySessionsSettled = await sampleTree(gateway.pid);
    await closeSessions(sessions);
    return {
      name,
      command: gateway.command,
      oneClient,
      manyClients: { ...manyClients, sessionSetupMs },
      idle,
      manySessionsBeforeLoad,
      afterManySessions,
      manySessionsSettled,
      ...(peak ? { peakDuringManySessions: peak } : {}),
    };
  } finally {
    await gateway.stop();
  }
}

function printTable(results: TargetResult[]): void {
  const rows = [['target', 'clients', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MB tree', '= own + upstreams', 'PSS MB tree', 'child procs']];
  for (const r of results) {
    for (const [run, tree] of [
      [r.oneClient, r.idle],
      [r.manyClients, r.afterManySessions],
    ] as const) {
      rows.push([
        r.name,
        String(run.callers),
        run.throughputPerSecond.toFixed(0),
        run.latencyMs.p50.toFixed(2),
        run.latencyMs.p95.toFixed(2),
        run.latencyMs.p99.toFixed(2),
        String(run.errors),
        tree ? tree.rssMb.toFixed(1) + (run === r.oneClient ? ' (idle)' : '') : '',
        tree ? `${tree.gatewayOwnRssMb.toFixed(1)} + ${tree.upstreamRssMb.toFixed(1)}` : '',
        tree ? tree.pssMb.toFixed(1) : '',
        tree ? String(tree.childProcesses) : '',
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, j) => (j < 1 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function benchTarget(target: string): Promise<TargetResult> {
  const loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
  console.error(`echo bench: ${target} (1 client, then ${CLIENTS}; ${WARMUP_MS / 1000}s warm-up + ${DURATION_MS / 1000}s each; load average ${loadAverage.join(' ')})`);
  let result: TargetResult;
  if (target === 'direct') result = await benchDirect();
  else if ((GATEWAYS as string[]).includes(target)) result = await benchGateway(target as GatewayName);
  else throw new Error(`unknown target "${target}"; expected direct, ${GATEWAYS.join(', ')}`);
  return { ...result, loadAverageBefore: loadAverage };
}

async function main(): Promise<void> {
  // Other work on a shared machine comes and goes: run every target once per round, alternate the order
  // between rounds, and keep each target's best round (by N-client throughput). All rounds are reported.
  const rounds: TargetResult[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
    const results: TargetResult[] = [];
    for (const target of order) results.push(await benchTarget(target));
    rounds.push(results);
  }
  const results = TARGETS.map((target) => {
    const name = target === 'direct' ? 'direct-stdio' : target;
    const runs = rounds.map((r) => r.find((t) => t.name === name) as TargetResult);
    return runs.reduce((best, run) => (run.manyClients.throughputPerSecond > best.manyClients.throughputPerSecond ? run : best));
  });

  const byName = new Map(results.map((r) => [r.name, r]));
  const harbor = byName.get('harbor');
  const tput = (name: string) => byName.get(name)?.manyClients.throughputPerSecond;
  const rss = (name: string) => byName.get(name)?.afterManySessions?.rssMb;
  const pss = (name: string) => byName.get(name)?.afterManySessions?.pssMb;
  const own = (name: string) => byName.get(name)?.afterManySessions?.gatewayOwnRssMb;
  const ratios = {
    [`throughput${CLIENTS}_harbor_over_supergateway`]: ratio(tput('harbor'), tput('supergateway')),
    [`throughput${CLIENTS}_harbor_over_mcpProxy`]: ratio(tput('harbor'), tput('mcp-proxy')),
    [`throughput${CLIENTS}_harbor_over_directStdio`]: ratio(tput('harbor'), tput('direct-stdio')),
    throughput1_harbor_over_supergateway: ratio(harbor?.oneClient.throughputPerSecond, byName.get('supergateway')?.oneClient.throughputPerSecond),
    throughput1_harbor_over_mcpProxy: ratio(harbor?.oneClient.throughputPerSecond, byName.get('mcp-proxy')?.oneClient.throughputPerSecond),
    [`rss${CLIENTS}_harbor_over_supergateway`]: ratio(rss('harbor'), rss('supergateway')),
    [`rss${CLIENTS}_harbor_over_mcpProxy`]: ratio(rss('harbor'), rss('mcp-proxy')),
    [`pss${CLIENTS}_harbor_over_supergateway`]: ratio(pss('harbor'), pss('supergateway')),
    [`pss${CLIENTS}_harbor_over_mcpProxy`]: ratio(pss('harbor'), pss('mcp-proxy')),
    [`ownRss${CLIENTS}_harbor_over_supergateway`]: ratio(own('harbor'), own('supergateway')),
    [`ownRss${CLIENTS}_harbor_over_mcpProxy`]: ratio(own('harbor'), own('mcp-proxy')),
    [`throughput${CLIENTS}_harbor_over_harborNoMetrics`]: ratio(tput('harbor'), tput('harbor-no-metrics')),
  };
  const atLeast2 = (value: number | null) => (value === null ? null : value >= 2);
  const targets = {
    [`throughput${CLIENTS}AtLeast2xSupergateway`]: atLeast2(ratios[`throughput${CLIENTS}_harbor_over_supergateway`] ?? null),
    [`throughput${CLIENTS}AtLeast2xMcpProxy`]: atLeast2(ratios[`throughput${CLIENTS}_harbor_over_mcpProxy`] ?? null),
    [`metricsCostUnder5Percent_throughput${CLIENTS}`]:
      ratios[`throughput${CLIENTS}_harbor_over_harborNoMetrics`] == null ? null : (ratios[`throughput${CLIENTS}_harbor_over_harborNoMetrics`] as number) >= 0.95,
    [`rss${CLIENTS}SessionsUnder150Mb_wholeTree`]: rss('harbor') === undefined ? null : (rss('harbor') as number) < 150,
    [`rss${CLIENTS}SessionsUnder150Mb_harborProcessesWithoutUpstream`]: own('harbor') === undefined ? null : (own('harbor') as number) < 150,
  };

  const report = {
    date: new Date().toISOString(),
    harborCommit: gitHead(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemoryMb: Math.round(totalmem() / MB), platform: process.platform, kernel: release(), node: process.version },
    method: {
      workload: 'tools/call echo {message} on @modelcontextprotocol/server-everything (stdio), answer checked',
      load: `closed loop: each caller sends its next call when the previous one answers; ${WARMUP_MS / 1000}s warm-up, then a ${DURATION_MS / 1000}s measured window (calls that start and end inside it)`,
      gatewayClient: `raw node:http keep-alive client (one socket per session): initialize + notifications/initialized + tools/call POSTs, JSON or SSE answers; same client for every gateway; ${CLIENTS} clients = ${CLIENTS} separate sessions opened one after another`,
      directClient: `SDK Client + StdioClientTransport; ${CLIENTS} clients = ${CLIENTS} concurrent in-flight calls on one stdio connection`,
      rss: `sum of RSS (pidusage, /proc) over the gateway process and all its descendants, with the ${CLIENTS} sessions still open right after their run (afterManySessions; the targets use it); also split into the gateway's own processes and the upstreams, as PSS (shared node binary pages split fairly), per process, before the run, ${SETTLE_MS / 1000}s after it, and the peak sampled every 2 s during it`,
      harborConfig: 'mcpServers.everything (shared mode, defaults) and limits raised to 1e6 req/s, 1000 sessions per teammate: every session uses the one bench token',
      logging: 'each gateway at its quietest: HARBOR_LOG_LEVEL=warn, supergateway --logLevel none, mcp-proxy without --debug',
    },
    clients: CLIENTS,
    rounds: ROUNDS,
    results,
    ratios,
    targets,
    allRounds: rounds,
  };

  printTable(results);
  console.log('\nratios:', JSON.stringify(ratios));
  console.log('targets:', JSON.stringify(targets));
  const out = reportPath(args, 'echo.json');
  if (out) {
    writeReport(out, report);
    console.log(`wrote ${out}`);
  }
}

await runBenchMain(main);
