/**
 * What one echo call costs Harbor's host in each protocol era (issue 14), counted rather than timed:
 * bytes allocated, bytes promoted to the old generation, collections, and (noisier, for reference) CPU
 * per call. CPU time on a shared 2-core machine swings by tens of percent between identical runs;
 * allocation is the same run after run, and what the collector does follows from it. Use it to judge
 * a change to either era's path before `npm run bench -- eras` measures CPU.
 *
 *   npm run bench -- alloc [--calls 20000] [--warmup 3000] [--clients 25] [--rounds 3] [--eras legacy,modern] [--verbose]
 *
 * The host runs in a child process from the built dist/ (bench/echo/measured-host.ts; `npm run bench`
 * rebuilds it, `node bench/alloc-per-call.ts` does not), with the heap flags the app gives it; the callers are the bench's own
 * (McpHttpSession: 2025-11-25 sessions, McpModernCaller: 2026-07-28 requests), each era with 1 caller
 * and --clients callers, eras alternating round by round; the median round is printed (all rounds with
 * --verbose). Writes nothing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { serverUrl } from '../server/access/server-url.ts';
import type { HostMark } from './echo/measured-host.ts';
import { callEcho, type EchoCaller } from './echo/call-echo.ts';
import { McpHttpSession, type HttpTarget } from './echo/mcp-http-session.ts';
import { McpModernCaller } from './echo/mcp-modern-caller.ts';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '25' },
    rounds: { type: 'string', default: '3' },
    eras: { type: 'string', default: 'legacy,modern' },
    verbose: { type: 'boolean', default: false },
  },
});
const CALLS = Number(args.calls);
const WARMUP = Number(args.warmup);
const ROUNDS = Math.max(1, Number(args.rounds));
const ERAS = args.eras.split(',') as Era[];
/** The host's heap as the app runs it (main/core/host-controller.ts hostHeapFlags): the semi-space sets how often it scavenges. */
const HOST_FLAGS = ['--max-semi-space-size=2'];

type Era = 'legacy' | 'modern';

interface PerCall {
  era: Era;
  callers: number;
  round: number;
  allocatedKB: number;
  promotedKB: number;
  scavengesPer1000: number;
  fullCollections: number;
  gcUs: number;
  cpuUs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

class MeasuredHost {
  readonly #child: ChildProcess;
  readonly #waiting: Array<(message: { kind: string; mark?: HostMark; url?: string; token?: string }) => void> = [];

  constructor() {
    this.#child = fork(new URL('./echo/measured-host.ts', import.meta.url), { execArgv: HOST_FLAGS, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (message: { kind: string }) => this.#waiting.shift()?.(message));
  }

  async ready(): Promise<HttpTarget> {
    const { url, token } = await this.#next();
    return { url: serverUrl(url!, 'everything'), headers: { authorization: `Bearer ${token}` } };
  }

  async mark(): Promise<HostMark> {
    this.#child.send({ kind: 'mark' });
    return (await this.#next()).mark!;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send({ kind: 'stop' });
    await exited;
  }

  #next(): Promise<{ kind: string; mark?: HostMark; url?: string; token?: string }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the measured host did not answer within 60 s')), 60_000);
      this.#waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }
}

async function measure(host: MeasuredHost, target: HttpTarget, era: Era, callers: number, round: number): Promise<PerCall> {
  const opened: EchoCaller[] = [];
  try {
    for (let i = 0; i < callers; i++) {
      const caller = era === 'legacy' ? new McpHttpSession(target) : new McpModernCaller(target);
      opened.push(caller);
      await caller.open();
    }
    await callEcho(opened, era, WARMUP);
    const before = await host.mark();
    await callEcho(opened, era, CALLS);
    const after = await host.mark();
    const per = (n: number, scale: number) => Math.round((n / CALLS) * scale * 100) / 100;
    const cpuUser = after.cpuUserMs - before.cpuUserMs;
    const cpuSystem = after.cpuSystemMs - before.cpuSystemMs;
    return {
      era,
      callers,
      round,
      // `after` counts what was collected since `before`: the measured calls alone.
      allocatedKB: per(after.allocatedBytes, 1 / 1024),
      promotedKB: per(after.promotedBytes, 1 / 1024),
      scavengesPer1000: per(after.scavenges, 1000),
      fullCollections: after.fullCollections,
      gcUs: per(after.gcMs, 1000),
      cpuUs: per(cpuUser + cpuSystem, 1000),
      cpuUserUs: per(cpuUser, 1000),
      cpuSystemUs: per(cpuSystem, 1000),
    };
  } finally {
    await Promise.all(opened.map((caller) => caller.close().catch(() => undefined)));
  }
}

function median(runs: PerCall[], key: keyof PerCall): number {
  const values = runs.map((r) => r[key] as number).sort((a, b) => a - b);
  return values[Math.floor((values.length - 1) / 2)]!;
}

const host = new MeasuredHost();
try {
  const target = await host.ready();
  const runs: PerCall[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const eras = round % 2 === 1 ? ERAS : [...ERAS].reverse();
    for (const era of eras) {
      for (const callers of [1, Number(args.clients)]) {
        const run = await measure(host, target, era, callers, round);
        runs.push(run);
        if (args.verbose) console.log(JSON.stringify(run));
      }
    }
  }
  const keys = ['allocatedKB', 'promotedKB', 'scavengesPer1000', 'fullCollections', 'gcUs', 'cpuUs', 'cpuUserUs', 'cpuSystemUs'] as const;
  console.log(`median of ${ROUNDS} round(s), ${CALLS} calls each, per call:`);
  console.log(['era', 'callers', ...keys].map((k) => k.padStart(16)).join(''));
  for (const era of ERAS) {
    for (const callers of [1, Number(args.clients)]) {
      const mine = runs.filter((r) => r.era === era && r.callers === callers);
      console.log([era, String(callers), ...keys.map((k) => String(median(mine, k)))].map((v) => v.padStart(16)).join(''));
    }
  }
} finally {
  await host.stop();
}
