/**
 * Soak: steady traffic through `harbor serve` to a leaking server and a healthy one for N minutes;
 * records RSS over time, restarts and the errors clients saw. `npm run soak -- --minutes 10`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AdminClient } from '../../main/core/admin-client.ts';
import { descendantsIn, isAlive, readProcessTable } from '../../server/supervision/process-tree.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '10' },
    'leak-mb': { type: 'string', default: '1' },
    'limit-mb': { type: 'string', default: '150' },
    out: { type: 'string', default: 'bench/results/soak.json' },
  },
});
const minutes = Number(values.minutes);
const clientCount = Number(values.clients);
const ROOT = new URL('../..', import.meta.url).pathname;
const FIXTURE = join(ROOT, 'test/fixtures/servers/fixture-server.ts');
const CLI = join(ROOT, 'main/cli.ts');

const home = mkdtempSync(join(tmpdir(), 'harbor-soak-'));
mkdirSync(join(home, 'docs'), { recursive: true });
writeFileSync(
  join(home, 'config.json'),
  JSON.stringify({
    docs: { folder: 'docs' },
    mcpServers: {
      leaky: { command: process.execPath, args: [FIXTURE], env: { FIXTURE_LEAK_MB: values['leak-mb'] }, memoryLimitMb: Number(values['limit-mb']) },
      healthy: { command: process.execPath, args: [FIXTURE] },
    },
    limits: { requestsPerSecond: 100000, burst: 100000, sessionsPerTeammate: 1000 },
  }),
);
const env = { ...process.env, HARBOR_HOME: home, HARBOR_LOG_LEVEL: 'warn' };
const serve = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let serveOut = '';
serve.stdout.on('data', (c: Buffer) => (serveOut += c.toString()));
serve.stderr.on('data', (c: Buffer) => (serveOut = (serveOut + c.toString()).slice(-20000)));

async function waitFor<T>(check: () => T | null | undefined | Promise<T | null | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface ErrorRecord {
  at: number;
  server: string;
  tool: string;
  message: string;
}

const url = await waitFor(() => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(serveOut)?.[1], 30_000);
const token = await new Promise<string>((resolve, reject) => {
  const child = spawn(process.execPath, [CLI, 'token', 'add', 'soak', '--json'], { env });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.on('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { token: string }).token) : reject(new Error(out))));
});
const admin = (await AdminClient.connect(home))!;

const errors: ErrorRecord[] = [];
const counts = { leaky: { ok: 0, failed: 0 }, healthy: { ok: 0, failed: 0 } };
const samples: Array<Record<string, unknown>> = [];
const endAt = Date.now() + minutes * 60_000;
let stop = false;

async function connect(server: string): Promise<Client> {
  const client = new Client({ name: `soak-${server}`, version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/${server}`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function drive(server: 'leaky' | 'healthy', tool: string, args: Record<string, unknown>, pauseMs: number): Promise<void> {
  let client = await connect(server);
  while (!stop && Date.now() < endAt) {
    try {
      await client.callTool({ name: tool, arguments: args });
      counts[server].ok++;
    } catch (error) {
      counts[server].failed++;
      const message = (error as Error).message;
      errors.push({ at: Date.now(), server, tool, message: message.slice(0, 200) });
      if (/404|Session not found/.test(message)) client = await connect(server); // host restarted: re-initialise
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  await client.close();
}

const sampler = setInterval(async () => {
  try {
    const status = await admin.request<{
      host: { rssBytes: number };
      servers: Array<{ name: string; upstreams: Array<{ process: { rssBytes: number; restarts: number; memoryRestarts: number; state: string } | null }> }>;
    }>('GET', '/admin/status');
    const sample: Record<string, unknown> = { at: Date.now(), hostRssMb: Math.round(status.host.rssBytes / 1048576) };
    for (const s of status.servers) {
      const p = s.upstreams[0]?.process;
      if (p) sample[s.name] = { rssMb: Math.round(p.rssBytes / 1048576), restarts: p.restarts, memoryRestarts: p.memoryRestarts, state: p.state };
    }
    samples.push(sample);
    process.stderr.write(`${new Date().toISOString()} ${JSON.stringify(sample)} ok=${counts.leaky.ok + counts.healthy.ok} failed=${errors.length}\n`);
  } catch (error) {
    samples.push({ at: Date.now(), error: (error as Error).message });
  }
}, 5000);

const drivers: Array<Promise<void>> = [];
for (let i = 0; i < clientCount; i++) {
  drivers.push(drive('healthy', 'echo', { message: `client ${i}` }, 20));
  if (i === 0) drivers.push(drive('leaky', 'leak', {}, 100));
}
const onSignal = () => {
  stop = true;
};
process.on('SIGINT', onSignal);
await Promise.all(drivers);
clearInterval(sampler);

const tree = descendantsIn(await readProcessTable(), serve.pid!);
serve.kill('SIGTERM');
await new Promise((resolve) => serve.once('exit', resolve));
await waitFor(() => tree.every((pid) => !isAlive(pid)) || null, 15_000).catch(() => {});
const leftovers = tree.filter(isAlive);

function groupMessages(list: ErrorRecord[]): Array<{ message: string; count: number }> {
  const groups = new Map<string, number>();
  for (const e of list) {
    const key = `${e.server}: ${e.message.replace(/\d+/g, 'N')}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([message, count]) => ({ message, count }));
}

const last = samples.filter((s) => !('error' in s)).at(-1) as Record<string, { memoryRestarts?: number; restarts?: number }> | undefined;
const peak = (name: string) => Math.max(0, ...samples.map((s) => ((s[name] as { rssMb?: number } | undefined)?.rssMb ?? 0)));
const record = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version },
  settings: { minutes, clients: clientCount, leakMbPerCall: Number(values['leak-mb']), limitMb: Number(values['limit-mb']) },
  calls: counts,
  errors: { total: errors.length, byMessage: groupMessages(errors) },
  restarts: { leaky: last?.leaky ?? null, healthy: last?.healthy ?? null },
  peakRssMb: { host: Math.max(...samples.map((s) => (s.hostRssMb as number) ?? 0)), leaky: peak('leaky'), healthy: peak('healthy') },
  processesLeftAfterStop: leftovers.length,
  samples,
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, values.out), JSON.stringify(record, null, 2) + '\n');
rmSync(home, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ...record, samples: `${samples.length} samples` }, null, 2) + '\n');
