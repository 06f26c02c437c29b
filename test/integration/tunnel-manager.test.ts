import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CloudflaredNotFoundError } from '../../main/core/tunnel/cloudflared-binary.ts';
import { TunnelTimeoutError } from '../../main/core/tunnel/quick-tunnel-url.ts';
import { QUICK_TUNNEL_LIMITATION, TunnelManager, type TunnelStatus } from '../../main/core/tunnel/tunnel-manager.ts';

const STANDIN = fileURLToPath(new URL('../fixtures/cloudflared-standin/cloudflared', import.meta.url));

interface StandinState {
  hostname: string;
  proxyUrl: string;
  pid: number;
  metricsUrl: string;
}

let origin: Server;
let originPort: number;
const seen: IncomingHttpHeaders[] = [];
const dir = mkdtempSync(join(tmpdir(), 'harbor-tunnel-'));

before(async () => {
  origin = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, host: req.headers.host }));
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  originPort = (origin.address() as { port: number }).port;
});

after(() => {
  origin.closeAllConnections();
  origin.close();
  rmSync(dir, { recursive: true, force: true });
});

function managerFor(stateFile: string, extraEnv: NodeJS.ProcessEnv = {}, readyTimeoutMs = 10_000): TunnelManager {
  return new TunnelManager({
    env: { ...process.env, HARBOR_CLOUDFLARED: STANDIN, STANDIN_STATE_FILE: stateFile, ...extraEnv },
    readyTimeoutMs,
    healthIntervalMs: 0,
  });
}

function readState(file: string): StandinState {
  return JSON.parse(readFileSync(file, 'utf8')) as StandinState;
}

/** GET through the stand-in's "edge", as a teammate's request to https://<hostname>/… would arrive. */
function getThrough(proxyUrl: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, proxyUrl), { agent: false, headers: { 'x-standin-client-ip': '203.0.113.7' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('TunnelManager with the stand-in cloudflared', () => {
  test('quick tunnel: URL learned, traffic reaches the origin, kill -9 brings a new URL', async (t) => {
    const stateFile = join(dir, 'quick.json');
    const manager = managerFor(stateFile);
    t.after(() => manager.stop());
    const states: TunnelStatus['state'][] = [];
    manager.on('state', (s: TunnelStatus) => states.push(s.state));
    const urls: string[] = [];
    manager.on('url', (url: string) => urls.push(url));

    const status = await manager.start({ mode: 'quick', hostPort: originPort });
    assert.equal(status.state, 'online');
    assert.equal(status.mode, 'quick');
    assert.equal(status.degradedReason, QUICK_TUNNEL_LIMITATION);
    const first = readState(stateFile);
    assert.equal(status.publicUrl, `https://${first.hostname}`);
    assert.match(status.publicUrl ?? '', /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    assert.deepEqual(urls, [status.publicUrl]);
    assert.deepEqual(states.slice(0, 2), ['starting', 'online']);

    const response = await getThrough(first.proxyUrl, '/mcp/docs');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { path: '/mcp/docs', host: first.hostname });
    const headers = seen.at(-1);
    assert.equal(headers?.['cf-connecting-ip'], '203.0.113.7');
    assert.match(String(headers?.['cf-ray']), /^[0-9a-f]{16}-[A-Z]{3}$/);
    assert.equal(headers?.['x-forwarded-for'], '203.0.113.7');
    assert.equal(headers?.['x-forwarded-proto'], 'https');

    const nextUrl = once(manager, 'url');
    process.kill(first.pid, 'SIGKILL');
    const [newUrl, previous] = (await nextUrl) as [string, string];
    assert.equal(previous, status.publicUrl);
    assert.notEqual(newUrl, status.publicUrl);
    assert.equal(manager.state().state, 'online');
    assert.equal(manager.state().publicUrl, newUrl);
    assert.ok(states.includes('down'), `states went through down: ${states.join(' → ')}`);

    const second = readState(stateFile);
    assert.notEqual(second.pid, first.pid);
    assert.equal(`https://${second.hostname}`, newUrl);
    await assert.rejects(getThrough(first.proxyUrl, '/mcp/docs'), /ECONNREFUSED/);
    const again = await getThrough(second.proxyUrl, '/mcp/docs');
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).host, second.hostname);

    await manager.stop();
    assert.equal(manager.state().state, 'off');
    assert.equal(isAlive(second.pid), false);
  });

  test('a missing binary is a clear error and state down', async () => {
    const manager = new TunnelManager({ env: { ...process.env, HARBOR_CLOUDFLARED: join(dir, 'no-such-cloudflared') } });
    await assert.rejects(manager.start({ mode: 'quick', hostPort: originPort }), (error: unknown) => {
      assert.ok(error instanceof CloudflaredNotFoundError);
      assert.match(error.message, /HARBOR_CLOUDFLARED=\S*no-such-cloudflared names no executable file/);
      return true;
    });
    assert.equal(manager.state().state, 'down');
    assert.match(manager.state().lastError ?? '', /cloudflared not found/);
    await manager.stop();
  });

  test('no URL ever (STANDIN_HANG): timeout error, state down', async (t) => {
    const stateFile = join(dir, 'hang.json');
    const manager = managerFor(stateFile, { STANDIN_HANG: '1' }, 1_500);
    t.after(() => manager.stop());
    await assert.rejects(manager.start({ mode: 'quick', hostPort: originPort }), (error: unknown) => {
      assert.ok(error instanceof TunnelTimeoutError);
      assert.equal(error.waitingFor, 'url');
      assert.match(error.message, /no quick-tunnel URL within 1.5 s/);
      assert.match(error.message, /Requesting new quick Tunnel/);
      return true;
    });
    assert.equal(manager.state().state, 'down');
    assert.equal(manager.state().publicUrl, null);
    assert.match(manager.state().lastError ?? '', /no quick-tunnel URL/);
    const pid = manager.pid;
    await manager.stop();
    if (pid !== undefined) assert.equal(isAlive(pid), false);
  });

  test('an exit before the URL rejects start with the exit code and the last log line', async (t) => {
    // The exit (100 ms after the stand-in starts) must come before the URL timeout however slowly the
    // stand-in boots: a timeout far beyond any boot, not the 10 s that raced it.
    const manager = managerFor(join(dir, 'early.json'), { STANDIN_HANG: '1', STANDIN_EXIT_AFTER_MS: '100' }, 100_000);
    t.after(() => manager.stop());
    await assert.rejects(manager.start({ mode: 'quick', hostPort: originPort }), /exited with code 1\. Last log line: .*failed to serve tunnel connection/);
    assert.equal(manager.state().state, 'down');
  });

  test('stop() during start rejects start and leaves no process behind', async () => {
    // No URL ever: stop() comes during start by construction, not because it beat a 5 s URL delay.
    const manager = managerFor(join(dir, 'stop-early.json'), { STANDIN_HANG: '1' });
    const starting = manager.start({ mode: 'quick', hostPort: originPort });
    const spawned = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pid in 5 s')), 5_000);
      const check = (): void => {
        const pid = manager.pid;
        if (pid === undefined) return void setTimeout(check, 10);
        clearTimeout(timer);
        resolve(pid);
      };
      check();
    });
    const rejected = assert.rejects(starting, /stopped before it was online/);
    await manager.stop();
    await rejected;
    assert.equal(manager.state().state, 'off');
    assert.equal(isAlive(spawned), false);
  });

  test('checkAlive restarts a cloudflared that lost its edge connection, and the URL changes', async (t) => {
    const stateFile = join(dir, 'resume.json');
    const manager = new TunnelManager({
      env: { ...process.env, HARBOR_CLOUDFLARED: STANDIN, STANDIN_STATE_FILE: stateFile },
      readyTimeoutMs: 10_000,
      healthIntervalMs: 0,
      reconnectGraceMs: 300,
    });
    t.after(() => manager.stop());
    const status = await manager.start({ mode: 'quick', hostPort: originPort });
    assert.equal(await manager.checkAlive(), 'alive');

    const { metricsUrl, pid } = readState(stateFile);
    const res = await fetch(new URL('/__standin/disconnect', metricsUrl), { method: 'POST' });
    assert.equal(res.status, 200);
    const nextUrl = once(manager, 'url');
    assert.equal(await manager.checkAlive(), 'restarted');
    const [newUrl] = (await nextUrl) as [string];
    assert.notEqual(newUrl, status.publicUrl);
    assert.equal(isAlive(pid), false);
    assert.equal(manager.state().state, 'online');
  });

  test('health polls mark a disconnected tunnel degraded and a reconnected one online', async (t) => {
    const stateFile = join(dir, 'degraded.json');
    const manager = new TunnelManager({
      env: { ...process.env, HARBOR_CLOUDFLARED: STANDIN, STANDIN_STATE_FILE: stateFile },
      healthIntervalMs: 50,
    });
    t.after(() => manager.stop());
    await manager.start({ mode: 'quick', hostPort: originPort });
    const { metricsUrl } = readState(stateFile);

    const degraded = waitForState(manager, 'degraded');
    await fetch(new URL('/__standin/disconnect', metricsUrl), { method: 'POST' });
    const status = await degraded;
    assert.match(status.lastError ?? '', /no connection to Cloudflare's edge/);

    const online = waitForState(manager, 'online');
    await fetch(new URL('/__standin/reconnect', metricsUrl), { method: 'POST' });
    assert.equal((await online).lastError, null);
  });

  test('named tunnel: token through the environment, stable hostname as the public URL', async (t) => {
    const stateFile = join(dir, 'named.json');
    const token = Buffer.from(JSON.stringify({ a: 'account', t: '6ff42ae2-765d-4adf-8112-31c55c1551ef', s: 'c2VjcmV0' })).toString('base64');
    const manager = managerFor(stateFile, { STANDIN_ORIGIN_URL: `http://127.0.0.1:${originPort}`, STANDIN_HOSTNAME: 'mcp.example.com' });
    t.after(() => manager.stop());
    const lines: string[] = [];
    manager.on('log', (line: string) => lines.push(line));
    const status = await manager.start({ mode: 'named', hostPort: originPort, token, hostname: 'mcp.example.com' });
    assert.equal(status.state, 'online');
    assert.equal(status.publicUrl, 'https://mcp.example.com');
    assert.equal(status.degradedReason, undefined);
    assert.ok(!lines.some((line) => line.includes(token)), 'the token never appears in the log');
    const { proxyUrl } = readState(stateFile);
    const response = await getThrough(proxyUrl, '/health');
    assert.equal(JSON.parse(response.body).host, 'mcp.example.com');
  });
});

function waitForState(manager: TunnelManager, state: TunnelStatus['state']): Promise<TunnelStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state ${state} not reached in 5 s`)), 5_000);
    const onState = (status: TunnelStatus): void => {
      if (status.state !== state) return;
      clearTimeout(timer);
      manager.off('state', onState);
      resolve(status);
    };
    manager.on('state', onState);
  });
}
