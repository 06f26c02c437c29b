/**
 * The host child as production runs it (server/host-main.ts, forked with IPC), for tests that must
 * see it from outside: its pid across a storm, its own RSS, its answers to a client in another process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { treeRss } from '../../server/supervision/process-tree.ts';
import { issueThroughAdmin, ROOT, tempHome } from './harbor.ts';

export interface HostProcess {
  url: string;
  pid: number;
  secret: string;
  /** A teammate token minted through the admin API. */
  token: string;
  child: ChildProcess;
  /** stderr so far (for failure messages). */
  stderr(): string;
  /** The host process's own resident memory (not its upstreams'). */
  rssBytes(): Promise<number>;
  /**
   * Live heap of the host after a full GC, through the inspector protocol (started with
   * `inspect: true`): a figure that does not depend on when V8 last collected or returned pages.
   */
  heapAfterGc(): Promise<number>;
  stop(): Promise<void>;
}

export async function startHostProcess(config: object, options: { readyTimeoutMs?: number; inspect?: boolean; execArgv?: string[] } = {}): Promise<HostProcess> {
  const { home, cleanup } = tempHome();
  writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  const secret = randomBytes(24).toString('hex');
  const child = fork(join(ROOT, 'server/host-main.ts'), ['--home', home, '--port', '0'], {
    env: { ...process.env, HARBOR_ADMIN_SECRET: secret, HARBOR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    // As the supervisor runs it (main/core/host-controller.ts): memory figures compare with production.
    execArgv: ['--max-semi-space-size=2', ...(options.inspect ? ['--inspect=127.0.0.1:0'] : []), ...(options.execArgv ?? [])],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-20_000);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    cleanup();
  };
  try {
    const ready = await new Promise<{ url: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`host not ready in time: ${stderr}`)), options.readyTimeoutMs ?? 30_000);
      child.on('message', (m: { type?: string; url?: string }) => {
        if (m?.type === 'ready') {
          clearTimeout(timer);
          resolve(m as { url: string });
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`host exited (${code}) before ready: ${stderr}`));
      });
    });
    const token = await issueThroughAdmin(ready.url, secret);
    return {
      url: ready.url,
      pid: child.pid!,
      secret,
      token,
      child,
      stderr: () => stderr,
      rssBytes: async () => (await treeRss(child.pid!, false)).rssBytes,
      heapAfterGc: async () => {
        const ws = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
        if (!ws) throw new Error('the host was not started with inspect: true');
        return inspectorHeapAfterGc(ws);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** HeapProfiler.collectGarbage, then Runtime.getHeapUsage, over the inspector's WebSocket. */
async function inspectorHeapAfterGc(url: string): Promise<number> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot reach the inspector at ${url}`)), { once: true });
  });
  let nextId = 1;
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method}`)), 30_000);
      const onMessage = (event: MessageEvent) => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
        if (message.id !== id) return;
        socket.removeEventListener('message', onMessage);
        clearTimeout(timer);
        if (message.error) reject(new Error(`inspector: ${JSON.stringify(message.error)}`));
        else resolve(message.result ?? {});
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    return (await call('Runtime.getHeapUsage')).usedSize as number;
  } finally {
    socket.close();
  }
}
