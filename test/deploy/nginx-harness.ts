/**
 * Real processes for the deploy tests: `harbor serve --container` replicas on loopback, and Debian's
 * nginx running the exported nginx.conf with its upstreams pointed at them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../helpers/harbor.ts';

export const NGINX = '/usr/sbin/nginx';

/** A port free at this moment (the OS picks it); nginx cannot be told to pick one itself. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Replica {
  name: string;
  port: number;
  child: ChildProcess;
  /** JSON log lines written so far (stdout). */
  lines: Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `node main/cli.ts <args>` and returns its stdout; throws with stderr on failure. */
export function harborCli(args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [join(ROOT, 'main/cli.ts'), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`harbor ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

export async function startReplica(name: string, options: { home: string; config: string; env?: NodeJS.ProcessEnv }): Promise<Replica> {
  mkdirSync(options.home, { recursive: true });
  const child = spawn(process.execPath, [join(ROOT, 'main/cli.ts'), 'serve', '--container', '--config', options.config], {
    env: { ...process.env, HARBOR_HOME: options.home, HARBOR_HOST: '127.0.0.1', PORT: '0', HARBOR_REPLICA: name, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        reject(new Error(`${name}: a stdout line that is not JSON: ${line}`));
        return;
      }
      lines.push(entry);
      if (entry.msg === 'container ready') resolve(Number(new URL(String(entry.url)).port));
    });
    void exited.then(([code]) => reject(new Error(`${name} exited ${code} before it was ready: ${stderr}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const port = await ready.finally(() => clearTimeout(timeout));
  return {
    name,
    port,
    child,
    lines,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = await exited;
      clearTimeout(force);
      return code;
    },
  };
}

export interface Nginx {
  port: number;
  errorLog: string;
  stop(): Promise<void>;
}

/**
 * The exported nginx.conf, changed only where this machine differs from compose: upstream hosts
 * become loopback ports, it listens on a free loopback port, and its pid, logs and temp files live in
 * `dir`. `readTimeoutSeconds` shortens proxy_read_timeout, to show heartbeats keep streams alive.
 */
export function rewriteNginxConf(text: string, options: { dir: string; port: number; upstreams: Record<string, number>; readTimeoutSeconds?: number }): string {
  let conf = text
    .replace(/^worker_processes .*$/m, 'worker_processes 1;')
    .replace(/^pid .*$/m, `pid ${join(options.dir, 'nginx.pid')};`)
    .replace(/access_log \S+;/, `access_log ${join(options.dir, 'access.log')};`)
    .replace(/error_log \S+ (\w+);/, `error_log ${join(options.dir, 'error.log')} $1;`)
    .replace(/client_body_temp_path \S+;/, `client_body_temp_path ${join(options.dir, 'body')};`)
    .replace(/proxy_temp_path \S+;/, `proxy_temp_path ${join(options.dir, 'proxy')};\n  fastcgi_temp_path ${join(options.dir, 'fastcgi')};\n  uwsgi_temp_path ${join(options.dir, 'uwsgi')};\n  scgi_temp_path ${join(options.dir, 'scgi')};`)
    .replace(/listen \d+;/, `listen 127.0.0.1:${options.port};`);
  for (const [name, port] of Object.entries(options.upstreams)) conf = conf.replaceAll(`server ${name}:7837`, `server 127.0.0.1:${port}`);
  if (options.readTimeoutSeconds) conf = conf.replace(/proxy_read_timeout \d+s;/, `proxy_read_timeout ${options.readTimeoutSeconds}s;`);
  return conf;
}

export async function startNginx(confText: string, dir: string, port: number): Promise<Nginx> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, confText);
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  // Ready when the port answers; nginx exiting first means the config was refused.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not answer on ${port}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    errorLog: join(dir, 'error.log'),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGQUIT');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
}
