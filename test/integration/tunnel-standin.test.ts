import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cloudflaredInvocation } from '../../main/core/tunnel/cloudflared-args.ts';
import { freeLoopbackPort } from '../../main/core/tunnel/free-port.ts';
import { waitForReady } from '../../main/core/tunnel/quick-tunnel-url.ts';
import { waitFor } from '../helpers/harbor.ts';

// The stand-in must fail the way the real cloudflared fails, or the manager's tests prove nothing.
const STANDIN = fileURLToPath(new URL('../fixtures/cloudflared-standin/cloudflared', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'harbor-standin-'));
const children = new Set<ChildProcess>();

let origin: Server;
let originPort: number;

before(async () => {
  // /sse writes one event, waits until the test says so, then a second and ends.
  origin = createServer((req, res) => {
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' });
      res.write('data: first\n\n');
      const release = (): void => void res.end('data: second\n\n');
      releases.push(release);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ host: req.headers.host }));
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  originPort = (origin.address() as { port: number }).port;
});
const releases: (() => void)[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  origin.closeAllConnections();
  origin.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(STANDIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = once(child, 'exit').then(([code]) => {
    children.delete(child);
    return code as number | null;
  });
  return { child, stderr: () => stderr, exit };
}

async function startQuick(
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; stderr: () => string; state: { hostname: string; proxyUrl: string; metricsUrl: string } }> {
  const stateFile = join(dir, `state-${Math.random().toString(36).slice(2)}.json`);
  const metricsPort = await freeLoopbackPort();
  const { args } = cloudflaredInvocation({ mode: 'quick', hostPort: originPort, metricsPort });
  const { child, stderr } = run(args, { STANDIN_STATE_FILE: stateFile, ...env });
  await waitForReady({ metricsUrl: `http://127.0.0.1:${metricsPort}`, timeoutMs: 10_000, pollMs: 20 });
  return { child, stderr, state: JSON.parse(readFileSync(stateFile, 'utf8')) };
}

/** Resolves with the first body chunk, and the rest once the stream ends. */
function openStream(url: string): Promise<{ first: string; rest: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.setEncoding('utf8');
      let rest = '';
      let gotFirst = false;
      const restDone = new Promise<string>((done) => res.on('end', () => done(rest)));
      res.on('data', (chunk: string) => {
        if (gotFirst) rest += chunk;
        else {
          gotFirst = true;
          resolve({ first: chunk, rest: restDone });
        }
      });
      res.on('end', () => {
        if (!gotFirst) resolve({ first: '', rest: Promise.resolve('') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('stand-in cloudflared honours the real CLI contract', () => {
  test('without --no-autoupdate it updates itself and exits with code 11', async () => {
    const { args } = cloudflaredInvocation({ mode: 'quick', hostPort: originPort, metricsPort: 20999 });
    const { exit, stderr } = run(args.filter((arg) => arg !== '--no-autoupdate'));
    assert.equal(await exit, 11);
    assert.match(stderr(), /has been updated to version/);
  });

  test('an unknown flag exits 1 with urfave/cli wording', async () => {
    const { exit, stderr } = run(['tunnel', '--no-autoupdate', '--bogus', 'x']);
    assert.equal(await exit, 1);
    assert.match(stderr(), /Incorrect Usage: flag provided but not defined: -bogus/);
  });

  test('tunnel flags after `run` are refused (global flags go before run)', async () => {
    const { exit, stderr } = run(['tunnel', 'run', '--no-autoupdate']);
    assert.equal(await exit, 1);
    assert.match(stderr(), /flag provided but not defined: -no-autoupdate/);
  });

  test('named mode rejects an invalid token', async () => {
    const { exit, stderr } = run(['tunnel', '--no-autoupdate', 'run', '--token', 'not-a-token']);
    assert.equal(await exit, 1);
    assert.match(stderr(), /Provided Tunnel token is not valid/);
  });

  test('quick mode: the log box, /quicktunnel, /ready, /metrics; Host rewritten to the public hostname', async () => {
    const { child, state, stderr } = await startQuick();
    assert.match(stderr(), /INF \|  Your quick Tunnel has been created! Visit it at \(it may take some time to be reachable\):  \|/);
    assert.ok(stderr().includes(`INF |  https://${state.hostname}`));
    assert.match(stderr(), /INF \+-{20,}\+/);
    const quick = (await (await fetch(`${state.metricsUrl}/quicktunnel`)).json()) as { hostname: string };
    assert.equal(quick.hostname, state.hostname);
    assert.match(state.hostname, /^[a-z]+(-[a-z]+)+\.trycloudflare\.com$/);
    const ready = await fetch(`${state.metricsUrl}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { readyConnections: number }).readyConnections, 1);
    assert.match(await (await fetch(`${state.metricsUrl}/metrics`)).text(), /cloudflared_tunnel_total_requests 0/);
    const through = (await (await fetch(`${state.proxyUrl}/x`)).json()) as { host: string };
    assert.equal(through.host, state.hostname);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });

  test('SSE streams through the edge; with STANDIN_BUFFER_SSE it arrives only at the end', async () => {
    const streaming = await startQuick();
    const open = await openStream(`${streaming.state.proxyUrl}/sse`);
    assert.equal(open.first, 'data: first\n\n', 'the first event arrives while the stream is still open');
    releases.shift()?.();
    assert.equal(await open.rest, 'data: second\n\n');

    const buffered = await startQuick({ STANDIN_BUFFER_SSE: '1' });
    const pending = openStream(`${buffered.state.proxyUrl}/sse`);
    // Bounded wait for the origin to have the request open (up to 10 s, not 200 sleeps of 10 ms), then release it.
    await waitFor(() => releases.length > 0, 10_000, 'the origin to have the request open');
    assert.equal(releases.length, 1);
    releases.shift()?.();
    const whole = await pending;
    // One chunk holding both events: the first was held back until the stream ended.
    assert.equal(whole.first, 'data: first\n\ndata: second\n\n');

    streaming.child.kill('SIGKILL');
    buffered.child.kill('SIGKILL');
  });

  test('a dead origin gives 502, like the edge does', async () => {
    const deadPort = await freeLoopbackPort();
    const metricsPort = await freeLoopbackPort();
    const stateFile = join(dir, 'dead-origin.json');
    const { args } = cloudflaredInvocation({ mode: 'quick', hostPort: deadPort, metricsPort });
    const { child } = run(args, { STANDIN_STATE_FILE: stateFile });
    await waitForReady({ metricsUrl: `http://127.0.0.1:${metricsPort}`, timeoutMs: 10_000, pollMs: 20 });
    const { proxyUrl } = JSON.parse(readFileSync(stateFile, 'utf8')) as { proxyUrl: string };
    assert.equal((await fetch(`${proxyUrl}/`)).status, 502);
    child.kill('SIGKILL');
  });
});
