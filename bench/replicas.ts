/**
 * Replicas benchmark (issue 16): two `harbor serve --container` replicas behind the nginx.conf that
 * `harbor export` writes, against one replica behind the same nginx, on this machine, with N (default
 * 25) Streamable HTTP sessions calling `echo` on @modelcontextprotocol/server-everything. A third
 * target, one replica with no nginx, is the ceiling of what the load generator can drive here.
 *
 *   node bench/replicas.ts [--duration 6] [--warmup 2] [--clients 25] [--rounds 2] [--out FILE]
 *
 * Load: the echo bench's closed-loop callers (bench/echo/closed-loop.ts) on its lean raw-HTTP client
 * (bench/echo/mcp-http-session.ts), one session and one socket per caller. CPU time of every process
 * (the generator, nginx's master and workers, each replica and its upstream) is read over the measured
 * window, so the report says who was busy, and whether the generator was the bottleneck.
 * Writes bench/results/replicas.json (unless --out names another file).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { carryConfig } from '../main/core/export/carry-config.ts';
import { renderBundle } from '../main/core/export/render-bundle.ts';
import { exportHashedTokens } from '../server/auth/token-transfer.ts';
import { HarborConfigSchema } from '../server/config/config-schema.ts';
import { harborPaths } from '../server/harbor-home.ts';
import { openDatabase } from '../server/store/sqlite-database.ts';
import { walkChildren } from '../server/supervision/process-tree.ts';
// The deploy tests' rewrite of the exported nginx.conf for loopback (ports, pid, logs, temp paths):
// the bench runs exactly the nginx those tests prove, rather than a second copy of the rewrite.
import { NGINX, rewriteNginxConf } from '../test/deploy/nginx-harness.ts';
import { gitHead, ratio, resultsPath, writeReport } from './echo/bench-report.ts';
import { processCpuMs } from './echo/proc-stats.ts';
import { runClosedLoop } from './echo/closed-loop.ts';
import { EVERYTHING, ROOT, freePort, runBenchMain, spawnGroup, stopChild, waitForOutput, waitForPort } from './echo/gateways.ts';
import { checkEcho, closeSessions, McpHttpSession, openSessions } from './echo/mcp-http-session.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    clients: { type: 'string', default: '25' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const CLIENTS = Number(args.clients);
const ROUNDS = Math.max(1, Number(args.rounds));
const MAX_CALLS_PER_CALLER = 200_000;
const HARBOR_CLI = join(ROOT, 'dist/main/cli.js');
/** The port the bundle's replicas listen on (main/commands/export.ts), rewritten to loopback ports. */
const CONTAINER_PORT = 7837;
const WRK = '/usr/bin/wrk';
const WRK_SCRIPT = fileURLToPath(new URL('replicas-wrk.lua', import.meta.url));

type TargetName = 'one-replica-direct' | 'one-replica-nginx' | 'two-replicas-nginx';
const TARGETS: TargetName[] = ['one-replica-direct', 'one-replica-nginx', 'two-replicas-nginx'];

interface Proc {
  name: string;
  pid: number;
  stop(): Promise<void>;
}

/** CPU time (ms, user + system) of each named process tree over the measured window. */
type CpuWindow = Record<string, { cpuMs: number; cores: number }>;

/** One generator's run against a target: throughput, latency, and who used the CPU. */
interface GeneratorRun {
  throughputPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  calls: number;
  errors: number;
  errorSamples: string[];
  cpu: CpuWindow;
}

type Generator = 'node' | 'wrk';

interface TargetResult {
  name: TargetName;
  replicas: number;
  nginx: boolean;
  /** Sessions each replica created (from the replica prefix of the session ids). */
  sessionsPerReplica: Record<string, number>;
  node: GeneratorRun;
  wrk: GeneratorRun;
  loadAverageBefore: number[];
}

const bench = mkdtempSync(join(tmpdir(), 'harbor-bench-replicas-'));
// nginx's workers run as nobody and write their temp files under the bench folder.
chmodSync(bench, 0o755);
const CONFIG = join(bench, 'config.json');
const RAW_CONFIG = {
  mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } },
  docs: false,
  // One bench token drives every session: the per-teammate limits would measure the limiter.
  limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, sessionsPerTeammate: 1_000 },
};

/** The team's token, issued on "the laptop" and carried to every replica as a hash (tokens.json). */
function issueToken(): { token: string; tokensFile: string } {
  const laptop = join(bench, 'laptop');
  const out = execFileSync(process.execPath, [HARBOR_CLI, 'token', 'add', 'bench', '--json'], { env: { ...process.env, HARBOR_HOME: laptop }, encoding: 'utf8' });
  const db = openDatabase(harborPaths(laptop).database);
  const tokensFile = join(bench, 'tokens.json');
  try {
    writeFileSync(tokensFile, JSON.stringify(exportHashedTokens(db)));
  } finally {
    db.close();
  }
  return { token: (JSON.parse(out) as { token: string }).token, tokensFile };
}

async function startReplica(name: string, env: NodeJS.ProcessEnv): Promise<Proc & { port: number }> {
  const home = join(bench, name);
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  // Container mode as the bundle runs it (info-level JSON logs on stdout, drained by spawnGroup).
  const child = spawnGroup(process.execPath, [HARBOR_CLI, 'serve', '--container', '--config', CONFIG], {
    ...process.env,
    ...env,
    HARBOR_HOME: home,
    HARBOR_HOST: '127.0.0.1',
    PORT: '0',
    HARBOR_REPLICA: name,
  });
  let url: string;
  try {
    url = (await waitForOutput(child, /^(?=.*"msg":"container ready").*"url":"([^"]+)"/m))[1] as string;
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { name, pid: child.pid as number, port: Number(new URL(url).port), stop: () => stopChild(child) };
}

/** The exported nginx.conf for these replica names, pointed at their loopback ports. */
async function startNginx(replicas: Array<{ name: string; port: number }>, port: number): Promise<Proc> {
  const carried = carryConfig(RAW_CONFIG, CONTAINER_PORT);
  const exported = renderBundle({ carried, maxBodyBytes: HarborConfigSchema.parse({}).maxBodyBytes, port: CONTAINER_PORT, replicas: replicas.map((r) => r.name), withTokens: false }).get('nginx.conf') as string;
  const dir = join(bench, `nginx-${replicas.length}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const conf = rewriteNginxConf(exported, { dir, port, upstreams: Object.fromEntries(replicas.map((r) => [r.name, r.port])) })
    // The test harness pins one worker; the bench keeps the export's `auto` (one worker per core).
    .replace(/^worker_processes 1;$/m, 'worker_processes auto;');
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawnGroup(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], process.env);
  try {
    await waitForPort(child, port);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { name: 'nginx', pid: child.pid as number, stop: () => stopChild(child) };
}

/**
 * Each tree's CPU so far, read synchronously with its timestamp: the generator's own event loop is
 * saturated during the run, and asynchronous reads would land hundreds of milliseconds apart from the
 * time they are charged to. A replica is split into its host process (`harbor-1`: the event loop that
 * bounds a replica) and its upstreams (`harbor-1-upstream`); nginx is counted whole, the generator alone.
 */
function cpuSnapshot(trees: Record<string, number>): { at: number; cpu: Record<string, number> } {
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(trees)) {
    const self = processCpuMs(pid);
    const children = (walkChildren(pid) ?? []).reduce((sum, child) => sum + processCpuMs(child), 0);
    if (name.startsWith('harbor-')) Object.assign(cpu, { [name]: self, [`${name}-upstream`]: children });
    // The Node generator is this process, whose children are the replicas and nginx: itself only.
    else cpu[name] = name === 'generator' ? self : self + children;
  }
  return { at: performance.now(), cpu };
}

/**
 * Runs `work` and reads every tree's CPU time `fromMs` and `toMs` after it starts (the measured
 * window); `trees` is asked at each reading, so a process the work starts (wrk) can be named.
 */
async function withCpuWindow<T>(trees: () => Record<string, number>, fromMs: number, toMs: number, work: () => Promise<T>): Promise<{ result: T; cpu: CpuWindow }> {
  let first: ReturnType<typeof cpuSnapshot> | undefined;
  let last: ReturnType<typeof cpuSnapshot> | undefined;
  const t1 = setTimeout(() => (first = cpuSnapshot(trees())), fromMs);
  const t2 = setTimeout(() => (last = cpuSnapshot(trees())), toMs);
  try {
    const result = await work();
    // A busy event loop can run a timer late: a reading still missing is taken now.
    const a = first ?? cpuSnapshot(trees());
    const b = last ?? cpuSnapshot(trees());
    const cpu: CpuWindow = {};
    const wallMs = b.at - a.at;
    for (const name of wallMs > 100 ? Object.keys(b.cpu) : []) {
      const cpuMs = Math.round((b.cpu[name] ?? 0) - (a.cpu[name] ?? 0));
      cpu[name] = { cpuMs, cores: Math.round((cpuMs / wallMs) * 100) / 100 };
    }
    return { result, cpu };
  } finally {
    clearTimeout(t1);
    clearTimeout(t2);
  }
}

/** The bench's own closed-loop callers (Node: the generator is this process), one per session. */
function nodeLoad(sessions: McpHttpSession[], trees: Record<string, number>): Promise<GeneratorRun> {
  const work = () =>
    runClosedLoop(async (caller, seq) => {
      const message = `c${caller}-${seq}`;
      checkEcho(await (sessions[caller] as McpHttpSession).callTool('echo', { message }), message);
    }, { callers: CLIENTS, warmupMs: WARMUP_MS, durationMs: DURATION_MS, maxCallsPerCaller: MAX_CALLS_PER_CALLER });
  return withCpuWindow(() => ({ ...trees, generator: process.pid }), WARMUP_MS, WARMUP_MS + DURATION_MS, work).then(({ result, cpu }) => ({
    throughputPerSecond: result.throughputPerSecond,
    latencyMs: { p50: result.latencyMs.p50, p95: result.latencyMs.p95, p99: result.latencyMs.p99, max: result.latencyMs.max },
    calls: result.calls,
    errors: result.errors,
    errorSamples: result.errorSamples,
    cpu,
  }));
}

/**
 * The same calls from wrk (C, epoll): CLIENTS connections on the sessions already open (they are warm
 * from the Node run), ids rotated per request. Its CPU per request is a fraction of Node's, so on a
 * machine this small it shows what the Harbor side can do when the generator leaves it the cores.
 */
async function wrkLoad(url: string, token: string, sessions: McpHttpSession[], trees: Record<string, number>): Promise<GeneratorRun> {
  let pid = 0;
  const work = () =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(WRK, ['-t', String(Math.min(2, cpus().length)), '-c', String(CLIENTS), '-d', `${DURATION_MS / 1000}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url], {
        env: { ...process.env, BENCH_TOKEN: token, BENCH_SESSIONS: sessions.map((s) => s.sessionId).join(',') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pid = child.pid ?? 0;
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out.slice(-500)}`))));
    });
  const { result, cpu } = await withCpuWindow(() => ({ ...trees, ...(pid ? { generator: pid } : {}) }), 500, DURATION_MS - 500, work);
  const line = /WRK_JSON (\{.*\})/.exec(result)?.[1];
  if (!line) throw new Error(`wrk printed no summary: ${result.slice(-500)}`);
  const w = JSON.parse(line) as { requests: number; durationUs: number; bad: number; socketErrors: number; p50: number; p95: number; p99: number; max: number };
  const ms = (us: number) => Math.round(us / 10) / 100;
  const good = w.requests - w.bad;
  return {
    throughputPerSecond: Math.round((good / (w.durationUs / 1e6)) * 100) / 100,
    latencyMs: { p50: ms(w.p50), p95: ms(w.p95), p99: ms(w.p99), max: ms(w.max) },
    calls: good,
    errors: w.bad + w.socketErrors,
    errorSamples: [],
    cpu,
  };
}

function countByReplica(sessions: McpHttpSession[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of sessions) {
    const replica = (s.sessionId ?? '').split('.')[0] ?? '?';
    counts[replica] = (counts[replica] ?? 0) + 1;
  }
  return counts;
}

async function benchTarget(name: TargetName, token: string, tokensFile: string): Promise<TargetResult> {
  const loadAverageBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const count = name === 'two-replicas-nginx' ? 2 : 1;
  const nginxPort = await freePort();
  console.error(`replicas bench: ${name} (${CLIENTS} sessions; ${WARMUP_MS / 1000}s warm-up + ${DURATION_MS / 1000}s; load average ${loadAverageBefore.join(' ')})`);
  const procs: Proc[] = [];
  try {
    const env = { HARBOR_TOKENS_FILE: tokensFile, HARBOR_ALLOWED_HOSTS: `127.0.0.1:${nginxPort}` };
    const replicas = [];
    for (let i = 1; i <= count; i++) {
      const replica = await startReplica(`harbor-${i}`, env);
      procs.push(replica);
      replicas.push(replica);
    }
    const withNginx = name !== 'one-replica-direct';
    if (withNginx) procs.push(await startNginx(replicas, nginxPort));
    const base = withNginx ? `http://127.0.0.1:${nginxPort}` : `http://127.0.0.1:${replicas[0]!.port}`;
    const trees = Object.fromEntries(procs.map((p) => [p.name, p.pid]));
    const url = `${base}/mcp/everything`;
    const sessions = await openSessions({ url, headers: { authorization: `Bearer ${token}` } }, CLIENTS);
    try {
      const node = await nodeLoad(sessions, trees);
      const wrk = await wrkLoad(url, token, sessions, trees);
      return { name, replicas: count, nginx: withNginx, sessionsPerReplica: countByReplica(sessions), node, wrk, loadAverageBefore };
    } finally {
      await closeSessions(sessions);
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
}

function printTable(best: Map<Generator, Map<TargetName, TargetResult>>): void {
  const cpuNames = ['harbor-1', 'harbor-1-upstream', 'harbor-2', 'harbor-2-upstream', 'nginx', 'generator'];
  const rows = [['target', 'generator', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'sessions', ...cpuNames.map((n) => `${n} cores`)]];
  for (const generator of ['wrk', 'node'] as const) {
    for (const r of best.get(generator)!.values()) {
      const run = r[generator];
      rows.push([
        r.name,
        generator,
        run.throughputPerSecond.toFixed(0),
        run.latencyMs.p50.toFixed(2),
        run.latencyMs.p95.toFixed(2),
        run.latencyMs.p99.toFixed(2),
        String(run.errors),
        Object.entries(r.sessionsPerReplica).map(([k, v]) => `${k}:${v}`).join(' '),
        ...cpuNames.map((n) => (run.cpu[n] ? run.cpu[n].cores.toFixed(2) : '')),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, j) => (j <= 1 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** The CPU split of one run, for the notes: "harbor-1 0.62, harbor-2 0.60, nginx 0.20, generator 0.31". */
function cpuSplit(run: GeneratorRun | undefined): string {
  if (!run) return 'not measured';
  const total = Object.values(run.cpu).reduce((sum, c) => sum + c.cores, 0);
  return `${Object.entries(run.cpu).map(([name, c]) => `${name} ${c.cores.toFixed(2)}`).join(', ')}; ${total.toFixed(2)} of ${cpus().length} cores in all`;
}

interface Projection {
  /** CPU per call (µs) of each part, from the wrk run on one replica behind nginx. */
  perCallCpuUs: { host: number; upstream: number; nginx: number; generator: number; total: number };
  /** What one replica can serve when its busiest single-threaded process (host loop or upstream) is saturated. */
  oneReplicaCeilingPerSecond: number;
  byCores: Record<string, { oneReplicaPerSecond: number; twoReplicasPerSecond: number; ratio: number; limitedBy: string }>;
}

/**
 * On paper: throughput = min(replicas x one replica's ceiling, cores / CPU per call). CPU per call is
 * what a loaded machine measures fairly (time on the CPU, not time waiting for it); the ceiling is the
 * single-threaded process that saturates first. Assumes per-call costs stay as measured with more
 * replicas (they grow a little: nginx picks among more upstreams, more processes share caches).
 */
function project(run: GeneratorRun | undefined): Projection | null {
  if (!run || run.throughputPerSecond <= 0) return null;
  const us = (name: string) => Math.round(((run.cpu[name]?.cores ?? 0) / run.throughputPerSecond) * 1e6 * 10) / 10;
  const cost = { host: us('harbor-1'), upstream: us('harbor-1-upstream'), nginx: us('nginx'), generator: us('generator'), total: 0 };
  cost.total = Math.round((cost.host + cost.upstream + cost.nginx + cost.generator) * 10) / 10;
  if (cost.total <= 0 || Math.max(cost.host, cost.upstream) <= 0) return null;
  const ceiling = Math.round(1e6 / Math.max(cost.host, cost.upstream));
  const byCores: Projection['byCores'] = {};
  for (const cores of [2, 4, 8]) {
    const machine = (cores * 1e6) / cost.total;
    const one = Math.min(ceiling, machine);
    const two = Math.min(2 * ceiling, machine);
    byCores[String(cores)] = {
      oneReplicaPerSecond: Math.round(one),
      twoReplicasPerSecond: Math.round(two),
      ratio: Math.round((two / one) * 100) / 100,
      limitedBy: two < 2 * ceiling ? 'the cores (every process shares them)' : "each replica's event loop",
    };
  }
  return { perCallCpuUs: cost, oneReplicaCeilingPerSecond: ceiling, byCores };
}

/** CPU µs per call of the Harbor processes (every replica's host and upstream) in one run. */
function harborUs(run: GeneratorRun | undefined): string {
  if (!run || run.throughputPerSecond <= 0) return '?';
  const cores = Object.entries(run.cpu).filter(([name]) => name.startsWith('harbor-')).reduce((sum, [, c]) => sum + c.cores, 0);
  return String(Math.round((cores / run.throughputPerSecond) * 1e6));
}

/** CPU µs per call of the generator in one run. */
function generatorUs(run: GeneratorRun | undefined): string {
  const cores = run?.cpu.generator?.cores;
  return run && cores !== undefined && run.throughputPerSecond > 0 ? String(Math.round((cores / run.throughputPerSecond) * 1e6)) : '?';
}

/** What was measured here, and what it becomes on bigger machines, with the CPU split as the evidence. */
function notesFor(best: Map<Generator, Map<TargetName, TargetResult>>, ratios: Record<string, number | null>, projection: Projection | null): string[] {
  const run = (generator: Generator, target: TargetName) => best.get(generator)?.get(target)?.[generator];
  const p = projection;
  const at = (cores: number) => (p ? p.byCores[String(cores)]! : null);
  return [
    `Measured on ${cpus().length} cores, shared with the other work on this machine (load average before each run is in allRounds). Two replicas over one, both behind nginx: ${ratios[`throughput${CLIENTS}_twoReplicas_over_oneReplica_bothBehindNginx_wrk`]}x with wrk as the generator, ${ratios[`throughput${CLIENTS}_twoReplicas_over_oneReplica_bothBehindNginx_node`]}x with the Node generator.`,
    `The generator: the Node closed-loop client costs ${generatorUs(run('node', 'one-replica-nginx'))} µs of CPU per call, wrk ${generatorUs(run('wrk', 'one-replica-nginx'))} µs (one replica behind nginx; Node: ${cpuSplit(run('node', 'one-replica-nginx'))}; wrk: ${cpuSplit(run('wrk', 'one-replica-nginx'))}). On 2 cores the Node client takes much of the core a second replica would need, so wrk's figures are the ones that speak of Harbor. One replica behind nginx over one direct: ${ratios[`throughput${CLIENTS}_oneReplicaNginx_over_oneReplicaDirect_wrk`]}x with wrk, ${ratios[`throughput${CLIENTS}_oneReplicaNginx_over_oneReplicaDirect_node`]}x with Node.`,
    `Two replicas behind nginx with wrk: ${cpuSplit(run('wrk', 'two-replicas-nginx'))}. Two replicas, nginx's workers and the generator compete for 2 cores: the second replica does not add a core, it splits the ones there are, and pays for a second event loop, a second upstream process and nginx's choice between them. On 2 cores a second replica buys availability (one can die; new sessions go to the other), not throughput.`,
    p
      ? `CPU per call (wrk, one replica behind nginx): host ${p.perCallCpuUs.host} µs, upstream ${p.perCallCpuUs.upstream} µs, nginx ${p.perCallCpuUs.nginx} µs, wrk ${p.perCallCpuUs.generator} µs (${p.perCallCpuUs.total} µs in all). One replica's ceiling is its busiest single-threaded process: ~${p.oneReplicaCeilingPerSecond} calls/s when it has a core to itself.`
      : 'CPU per call: not measured (a run without CPU readings).',
    `Per call, the Harbor processes (hosts + upstreams) used ${harborUs(run('wrk', 'one-replica-nginx'))} µs with one replica and ${harborUs(run('wrk', 'two-replicas-nginx'))} µs with two (wrk): on 2 cores two half-fed replicas lose the batching a busy event loop gets (several requests per turn, per write to the upstream's pipe) and switch between more runnable processes, so the same work costs more CPU. That, not nginx (which routes the same in both), is why two replicas come out below one here. On 4 and more cores each replica is saturated on a core of its own, where the one-replica cost applies again.`,
    'Why: each replica is one Node event loop (the host) plus one stdio upstream per hosted server (here server-everything, a second Node process the host talks to over a pipe); neither can use more than about one core, and the host loop saturates first. nginx is cheap per request (a fraction of the host\'s cost per call). The generator is the third consumer on one machine. So replicas add throughput only while each has cores of its own: throughput = min(replicas x one replica\'s ceiling, cores / CPU per call).',
    at(4)
      ? `4 cores, on paper: one replica ~${at(4)!.oneReplicaPerSecond}/s, two ~${at(4)!.twoReplicasPerSecond}/s, ratio ~${at(4)!.ratio}x (limited by ${at(4)!.limitedBy}); but two replicas, their upstreams, nginx and the generator need about ${Math.round(((2 * p!.oneReplicaCeilingPerSecond * p!.perCallCpuUs.total) / 1e6) * 10) / 10} cores to run both replicas flat out, so with no headroom left expect somewhat under that ratio.`
      : '4 cores: not projected.',
    at(8)
      ? `8 cores, on paper: one replica ~${at(8)!.oneReplicaPerSecond}/s, two ~${at(8)!.twoReplicasPerSecond}/s, ratio ~${at(8)!.ratio}x (limited by ${at(8)!.limitedBy}); the cores left over go to more replicas (compose scale, the HPA on Kubernetes), not to a bigger replica: one cannot use more than its event loop and its upstreams. In practice a little under these figures: per-call costs grow with more processes sharing caches and memory bandwidth, and a generator on another machine gives the cleanest measure.`
      : '8 cores: not projected.',
    'Memory scales with replicas, not with calls: each replica runs its own copy of every shared-mode hosted server (two replicas, two server-everything processes), which is what a stateful upstream (a browser, a database connection) costs at scale.',
  ];
}

function bestRounds(rounds: TargetResult[][], generator: Generator): Map<TargetName, TargetResult> {
  return new Map(TARGETS.map((name) => {
    const runs = rounds.map((r) => r.find((t) => t.name === name) as TargetResult);
    return [name, runs.reduce((a, b) => (b[generator].throughputPerSecond > a[generator].throughputPerSecond ? b : a))] as const;
  }));
}

async function main(): Promise<void> {
  const { token, tokensFile } = issueToken();
  writeFileSync(CONFIG, JSON.stringify(RAW_CONFIG));
  // The machine is shared: each target once per round, order alternated, best round kept; all kept.
  const rounds: TargetResult[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
    const results: TargetResult[] = [];
    for (const target of order) results.push(await benchTarget(target, token, tokensFile));
    rounds.push(results);
  }
  const best = new Map((['node', 'wrk'] as const).map((g) => [g, bestRounds(rounds, g)] as const));
  const ratios: Record<string, number | null> = {};
  for (const g of ['wrk', 'node'] as const) {
    const of = (name: TargetName) => best.get(g)!.get(name)![g];
    ratios[`throughput${CLIENTS}_twoReplicas_over_oneReplica_bothBehindNginx_${g}`] = ratio(of('two-replicas-nginx').throughputPerSecond, of('one-replica-nginx').throughputPerSecond);
    ratios[`p95_twoReplicas_over_oneReplica_bothBehindNginx_${g}`] = ratio(of('two-replicas-nginx').latencyMs.p95, of('one-replica-nginx').latencyMs.p95);
    ratios[`throughput${CLIENTS}_oneReplicaNginx_over_oneReplicaDirect_${g}`] = ratio(of('one-replica-nginx').throughputPerSecond, of('one-replica-direct').throughputPerSecond);
  }
  const projection = project(best.get('wrk')!.get('one-replica-nginx')?.wrk);
  const summary = Object.fromEntries((['wrk', 'node'] as const).map((g) => [g, Object.fromEntries(TARGETS.map((name) => {
    const r = best.get(g)!.get(name)![g];
    return [name, { throughputPerSecond: r.throughputPerSecond, p95Ms: r.latencyMs.p95, errors: r.errors, generatorCores: r.cpu.generator?.cores ?? null }];
  }))]));
  const report = {
    date: new Date().toISOString(),
    harborCommit: gitHead(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemoryMb: Math.round(totalmem() / 1024 / 1024), platform: process.platform, kernel: release(), node: process.version, nginx: spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim(), wrk: spawnSync(WRK, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0] },
    method: {
      workload: 'tools/call echo {message} on @modelcontextprotocol/server-everything (stdio, shared mode: one upstream per replica), every answer checked',
      sessions: `${CLIENTS} Streamable HTTP sessions (2025-06-18) opened one after another through the target (nginx spreads them round-robin); the same sessions carry both generators' calls`,
      nodeGenerator: `the echo bench's closed loop (bench/echo/closed-loop.ts) on its lean raw-HTTP client (bench/echo/mcp-http-session.ts): ${CLIENTS} callers, one session and keep-alive socket each, ${WARMUP_MS / 1000}s warm-up, then a ${DURATION_MS / 1000}s measured window`,
      wrkGenerator: `wrk -t${Math.min(2, cpus().length)} -c${CLIENTS} -d${DURATION_MS / 1000}s with bench/replicas-wrk.lua: ${CLIENTS} connections, each request on the next session id in turn (nginx routes it to the replica that created it), answers checked in Lua; runs right after the Node run, so the sessions are warm`,
      replicas: '`node dist/main/cli.js serve --container` (the bundle\'s command), each with its own SQLite home and the same hashed token imported from tokens.json, info-level JSON logs on stdout',
      nginx: 'the nginx.conf `harbor export` renders (main/core/export/render-bundle.ts) for harbor-1 (and harbor-2), rewritten for loopback by test/deploy/nginx-harness.ts (ports, pid, log and temp paths; access log to a file), worker_processes auto as exported',
      cpu: 'user+system CPU time (/proc/<pid>/stat utime+stime, read synchronously with its timestamp) of each process over the measured window: a replica\'s host process and its upstreams apart, nginx master and workers, the generator (this process or wrk); "cores" = CPU ms / wall ms',
      targets: 'one-replica-direct (no nginx), one-replica-nginx, two-replicas-nginx; every target once per round, order reversed on alternate rounds, best round per generator reported',
    },
    clients: CLIENTS,
    rounds: ROUNDS,
    summary,
    ratios,
    projection,
    notes: notesFor(best, ratios, projection),
    best: Object.fromEntries([...best].map(([g, m]) => [g, Object.fromEntries(m)])),
    allRounds: rounds,
  };
  printTable(best);
  console.log('\nratios:', JSON.stringify(ratios));
  for (const note of report.notes) console.log(`- ${note}`);
  const out = args.out ?? resultsPath('replicas.json');
  writeReport(out, report);
  console.log(`wrote ${out}`);
}

await runBenchMain(main, () => rmSync(bench, { recursive: true, force: true }));
