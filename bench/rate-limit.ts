/**
 * Rate-limit benchmark (issue 17): an API wrapper whose API allows 10 calls per second per key and
 * answers 429 beyond (test/fixtures/servers/counting-server.ts), called through Harbor by 25 teammates
 * at once for a bounded time, each calling a read-only tool about once a second (a person's agent at
 * work). Scenarios:
 *   none       one process, one key, no queue: every call goes straight through (Harbor before issue 17);
 *   pool       3 copies with a key each (replicaEnv), maxConcurrentCalls 5: rate-limited copies rest,
 *              read-only calls retry on another copy, calls wait in the fair queue while all copies rest;
 *   pool-write the same pool calling a write tool: not retried, so 429s reach the caller as they came.
 *
 *   node bench/rate-limit.ts [--seconds 20] [--teammates 25] [--think-ms 1000] [--api-ms 50] [--scenarios none,pool,pool-write]
 *
 * Writes bench/results/rate-limit.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHost } from '../server/host.ts';
import { silentLogger } from '../server/logger.ts';
import { resultsPath, writeReport } from './echo/bench-report.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    teammates: { type: 'string', default: '25' },
    'think-ms': { type: 'string', default: '1000' },
    'api-ms': { type: 'string', default: '50' },
    'rate-per-key': { type: 'string', default: '10' },
    scenarios: { type: 'string', default: 'none,pool,pool-write' },
  },
});
const SECONDS = Number(args.seconds);
const TEAMMATES = Number(args.teammates);
const THINK_MS = Number(args['think-ms']);
const API_MS = Number(args['api-ms']);
const RATE_PER_KEY = Number(args['rate-per-key']);
const COUNTING = fileURLToPath(new URL('../test/fixtures/servers/counting-server.ts', import.meta.url));

interface Scenario {
  name: string;
  description: string;
  tool: 'read' | 'work';
  entry: Record<string, unknown>;
}

const server = { command: process.execPath, args: [COUNTING], env: { COUNTING_RATE_PER_SECOND: String(RATE_PER_KEY), COUNTING_KEY: 'key-1' } };
const pool = { replicas: 3, replicaEnv: { COUNTING_KEY: ['key-1', 'key-2', 'key-3'] }, maxConcurrentCalls: 5 };
const SCENARIOS: Scenario[] = [
  { name: 'none', description: 'one process, one key, no queue (no protection)', tool: 'read', entry: server },
  { name: 'pool', description: 'queue (maxConcurrentCalls 5) + 3 copies with a key each, read-only tool (retried)', tool: 'read', entry: { ...server, ...pool } },
  { name: 'pool-write', description: 'queue + 3 keys, write tool (not retried)', tool: 'work', entry: { ...server, ...pool } },
];

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
}

async function connect(url: string, token: string, name: string): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/api`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function run(scenario: Scenario) {
  const home = mkdtempSync(join(tmpdir(), 'harbor-bench-rate-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ mcpServers: { api: scenario.entry }, docs: false, metrics: { enabled: true } }));
  const host = await startHost({ home, port: 0, log: silentLogger });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < TEAMMATES; i++) clients.push(await connect(host.url, host.tokens.issue(`teammate-${i}`).token, `teammate-${i}`));
    await clients[0]!.listTools();
    // Let every key's window empty after start-up, so each scenario starts from the same budget.
    await new Promise((r) => setTimeout(r, 1100));
    let ok = 0;
    let failed = 0;
    const failures = new Map<string, number>();
    const latencies: number[] = [];
    const deadline = performance.now() + SECONDS * 1000;
    await Promise.all(
      clients.map(async (client, i) => {
        // Teammates start spread over the first think time, as people do.
        await new Promise((r) => setTimeout(r, (THINK_MS * i) / TEAMMATES));
        while (performance.now() < deadline) {
          const started = performance.now();
          let why: string | null = null;
          try {
            const result = await client.callTool({ name: scenario.tool, arguments: { ms: API_MS } }, undefined, { timeout: 120_000 });
            if (result.isError) why = String((result.content as Array<{ text?: string }>)[0]?.text ?? 'isError');
          } catch (error) {
            why = (error as Error).message;
          }
          latencies.push(performance.now() - started);
          if (why === null) ok++;
          else {
            failed++;
            failures.set(why, (failures.get(why) ?? 0) + 1);
          }
          await new Promise((r) => setTimeout(r, THINK_MS));
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const status = host.servers.get('api')!.status();
    return {
      scenario: scenario.name,
      description: scenario.description,
      calls: ok + failed,
      ok,
      failed,
      failedRatio: ok + failed > 0 ? Math.round((failed / (ok + failed)) * 1000) / 1000 : null,
      failures: Object.fromEntries(failures),
      latencyMs: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), max: quantile(latencies, 1) },
      rateLimitedAnswersRestedOn: status.pool?.copies.map((c) => c.rateLimited) ?? null,
      queueWaitP95Ms: status.pool?.queue.waitP95Ms ?? null,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await host.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const picked = args.scenarios.split(',').map((name) => {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario "${name}"; expected ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return scenario;
});
const results = [];
for (const scenario of picked) {
  process.stdout.write(`rate-limit: ${scenario.name} (${scenario.description}) for ${SECONDS} s…\n`);
  const result = await run(scenario);
  results.push(result);
  process.stdout.write(`  ${result.calls} calls, ${result.failed} failed (${((result.failedRatio ?? 0) * 100).toFixed(1)} %), p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms\n`);
}
const out = resultsPath('rate-limit.json');
writeReport(out, { at: new Date().toISOString(), node: process.version, setup: { seconds: SECONDS, teammates: TEAMMATES, thinkMs: THINK_MS, apiMs: API_MS, ratePerKeyPerSecond: RATE_PER_KEY }, results });
process.stdout.write(`wrote ${out}\n`);
