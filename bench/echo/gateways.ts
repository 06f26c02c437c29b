import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { serverUrl } from '../../server/access/server-url.ts';
import { killTree } from '../../server/supervision/process-tree.ts';
import type { HttpTarget } from './mcp-http-session.ts';

/**
 * Each gateway under test runs as its own child process (a process-group leader, so its whole tree can
 * be measured and ended), fronting the same stdio server-everything command.
 */

export const ROOT = new URL('../..', import.meta.url).pathname;
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** The built CLI, what `npm install` gives users (bin → dist); bench/run.ts builds it first. */
const HARBOR_CLI = join(ROOT, 'dist/main/cli.js');
const SUPERGATEWAY = join(ROOT, 'node_modules/supergateway/dist/index.js');
const MCP_PROXY = join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');
const START_TIMEOUT_MS = 30_000;

export type GatewayName = 'harbor' | 'harbor-no-metrics' | 'supergateway' | 'mcp-proxy';

export interface RunningGateway {
  name: GatewayName;
  /** What was run, for the report. */
  command: string;
  pid: number;
  target: HttpTarget;
  stop(): Promise<void>;
}

/** Every gateway started and not yet stopped, so an interrupted run can still end them. */
const live = new Set<ChildProcess>();

/**
 * Last-resort cleanup on exit, synchronous: SIGKILL to each gateway we started, its process group, and
 * its descendants (supergateway puts each upstream in a group of its own).
 */
export function killAllGatewaysNow(): void {
  for (const child of live) {
    if (child.pid === undefined) continue;
    const pids = [child.pid, ...descendantsSync(child.pid)];
    for (const pid of [-child.pid, ...pids]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

/**
 * A bench script's main: the gateways it started (and its own `cleanup`) end on success, on failure
 * and on SIGINT/SIGTERM, and a failure sets the exit code.
 */
export async function runBenchMain(main: () => Promise<void>, cleanup: () => void = () => {}): Promise<void> {
  const interrupt = () => {
    killAllGatewaysNow();
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  process.on('exit', killAllGatewaysNow);
  try {
    await main();
  } catch (error) {
    console.error(error);
    killAllGatewaysNow();
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}

function descendantsSync(root: number): number[] {
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0 && found.length < 1_000) {
    const pid = queue.shift() as number;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of text.split(' ').filter(Boolean).map(Number)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

export interface GatewayOptions {
  /** NODE_OPTIONS for every Node process of the gateway's tree, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
  nodeOptions?: string | undefined;
}

export async function startGateway(name: GatewayName, options: GatewayOptions = {}): Promise<RunningGateway> {
  const env = options.nodeOptions ? { ...process.env, NODE_OPTIONS: options.nodeOptions } : process.env;
  switch (name) {
    case 'harbor':
      return startHarbor(env, true);
    case 'harbor-no-metrics':
      // The same host with metrics collection off: the metrics' own cost is the difference.
      return startHarbor(env, false);
    case 'supergateway':
      return startSupergateway(env);
    case 'mcp-proxy':
      return startMcpProxy(env);
  }
}

async function startHarbor(baseEnv: NodeJS.ProcessEnv, metrics: boolean): Promise<RunningGateway> {
  const home = mkdtempSync(join(tmpdir(), 'harbor-bench-'));
  const env = { ...baseEnv, HARBOR_HOME: home, HARBOR_LOG_LEVEL: 'warn' };
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({
      mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } },
      // One bench token drives every session; the per-teammate rate limit and session cap (10 req/s,
      // 10 sessions by default) would otherwise measure the limiter, not the gateway.
      limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, sessionsPerTeammate: 1_000 },
      metrics: { enabled: metrics },
    }),
  );
  const { stdout } = await promisify(execFile)(process.execPath, [HARBOR_CLI, 'token', 'add', 'bench', '--json'], {
    env: { ...env, NODE_OPTIONS: '' },
  });
  const { token } = JSON.parse(stdout) as { token: string };
  const args = [HARBOR_CLI, 'serve', '--port', '0'];
  const child = spawnGroup(process.execPath, args, env);
  let baseUrl: string;
  try {
    const line = await waitForOutput(child, /at (http:\/\/\S+)/);
    baseUrl = line[1] as string;
  } catch (error) {
    await stopChild(child);
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
  return {
    name: metrics ? 'harbor' : 'harbor-no-metrics',
    command: `HARBOR_LOG_LEVEL=warn node ${args.join(' ')}`.replace(ROOT, ''),
    pid: child.pid as number,
    target: { url: serverUrl(baseUrl, 'everything'), headers: { authorization: `Bearer ${token}` } },
    async stop() {
      await stopChild(child);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

async function startSupergateway(env: NodeJS.ProcessEnv): Promise<RunningGateway> {
  const port = await freePort();
  const args = [
    SUPERGATEWAY,
    '--stdio',
    `${process.execPath} ${EVERYTHING} stdio`,
    '--outputTransport',
    'streamableHttp',
    '--stateful',
    '--port',
    String(port),
    '--logLevel',
    'none',
  ];
  return startPortGateway('supergateway', args, port, env);
}

async function startMcpProxy(env: NodeJS.ProcessEnv): Promise<RunningGateway> {
  const port = await freePort();
  const args = [
    MCP_PROXY,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--server',
    'stream',
    '--',
    process.execPath,
    EVERYTHING,
    'stdio',
  ];
  return startPortGateway('mcp-proxy', args, port, env);
}

async function startPortGateway(name: GatewayName, args: string[], port: number, env: NodeJS.ProcessEnv): Promise<RunningGateway> {
  const child = spawnGroup(process.execPath, args, env);
  try {
    await waitForPort(child, port);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    name,
    command: `node ${args.join(' ')}`.replaceAll(ROOT, '').replaceAll(process.execPath, 'node'),
    pid: child.pid as number,
    target: { url: `http://127.0.0.1:${port}/mcp`, headers: {} },
    stop: () => stopChild(child),
  };
}

export function spawnGroup(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { env, cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.on('exit', () => live.delete(child));
  // Keep the pipes drained so a chatty gateway never blocks on a full pipe; keep a tail for errors.
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  Object.defineProperty(child, 'outputTail', { get: () => tail });
  return child;
}

function outputTail(child: ChildProcess): string {
  return (child as ChildProcess & { outputTail?: string }).outputTail ?? '';
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  await killTree(child.pid, { graceMs: 3_000, group: true });
  live.delete(child);
}

export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}: ${outputTail(child)}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = seen.match(pattern);
      if (match) done(null, match);
    };
    const onExit = (code: number | null) => done(new Error(`exited with ${code} before it was ready: ${outputTail(child)}`));
    const done = (error: Error | null, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(match as RegExpMatchArray);
    };
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Polls until something accepts TCP connections on the port (bounded), or the child exits. */
export async function waitForPort(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before it was ready: ${outputTail(child)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for port ${port}: ${outputTail(child)}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
