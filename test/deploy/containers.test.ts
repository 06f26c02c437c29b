/**
 * The exported bundle on a real Docker engine: the Dockerfile built on a local Debian + Node 24
 * base (BASE_IMAGE), compose.yaml run with a host-network override (the engine has no bridge; all
 * traffic stays on loopback), then /health and a tool call through nginx, and `restart: always`
 * bringing back a replica whose process was killed. The test starts the engine and stops it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDocument, stringify } from 'yaml';
import { connectClient, ROOT } from '../helpers/harbor.ts';
import { BASE_IMAGE, docker, dockerAvailable, ensureBaseImage, SOCKET, startEngine, type Engine } from './docker-engine.ts';
import { ensureServiceImages, NGINX_IMAGE, POSTGRES_IMAGE } from './local-images.ts';
import { freePort, harborCli, rewriteNginxConf } from './nginx-harness.ts';

const skip = dockerAvailable() ?? (spawnSync('docker-compose', ['version'], { timeout: 10_000 }).status === 0 ? false : 'docker-compose is missing');
const PROJECT = 'harbortest';
const HOST_IMAGE = 'harbor-test/host:test';

let dir = '';
let engine: Engine | null = null;
let token = '';
let base = '';
const ports: Record<string, number> = {};

const say = (line: string) => process.stderr.write(`# containers: ${line}\n`);

function compose(args: string[], timeoutMs = 180_000): string {
  const result = spawnSync('docker-compose', ['-p', PROJECT, '-f', 'compose.host-network.yaml', '-f', 'override.yaml', ...args], {
    cwd: join(dir, 'bundle'),
    env: { ...process.env, DOCKER_HOST: SOCKET, POSTGRES_PASSWORD: 'test-only-password', COMPOSE_INTERACTIVE_NO_CLI: '1' },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (result.status !== 0) throw new Error(`docker-compose ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const containerOf = (service: string) => compose(['ps', '-q', service]).trim();
const inspect = (id: string, format: string) => docker(['inspect', '--format', format, id]).trim();

async function until<T>(what: string, timeoutMs: number, probe: () => T | null | Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const allHealthy = (services: string[]) => () =>
  services.every((s) => inspect(containerOf(s), '{{if .State.Health}}{{.State.Health.Status}}{{end}}') === 'healthy') ? true : null;

/** Builds this checkout's compiled host into the bundle (the shared dist/ is left alone). */
function freshDist(bundle: string): void {
  const out = join(dir, 'dist');
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', out, '--sourceMap', 'false'], { encoding: 'utf8', timeout: 180_000 });
  // Type errors do not stop emit; the type-check is CI's job, this needs the JavaScript.
  assert.ok(readFileSync(join(out, 'main/cli.js')).length > 0, built.stdout);
  rmSync(join(bundle, 'harbor/dist'), { recursive: true, force: true });
  cpSync(out, join(bundle, 'harbor/dist'), { recursive: true });
}

function writeOverride(bundle: string): void {
  const replica = (name: string) => ({
    image: HOST_IMAGE,
    network_mode: 'host',
    environment: {
      HARBOR_HOST: '127.0.0.1',
      PORT: String(ports[name]),
      // Host networking: the compose hostname does not resolve, the loopback port does.
      HARBOR_REPLICA_URL: `http://127.0.0.1:${ports[name]}`,
      HARBOR_ALLOWED_HOSTS: `127.0.0.1:${ports.nginx}`,
      HARBOR_DATABASE_URL: `postgres://harbor:test-only-password@127.0.0.1:${ports.postgres}/harbor`,
    },
  });
  const nginxConf = rewriteNginxConf(readFileSync(join(bundle, 'nginx.conf'), 'utf8'), {
    dir: '/tmp',
    port: ports.nginx!,
    upstreams: { 'harbor-1': ports['harbor-1']!, 'harbor-2': ports['harbor-2']! },
  }).replace(/access_log \S+;/, 'access_log /dev/stdout;').replace(/error_log \S+ (\w+);/, 'error_log /dev/stderr $1;');
  writeFileSync(join(bundle, 'nginx.host-network.conf'), nginxConf);
  const override = {
    services: {
      'harbor-1': replica('harbor-1'),
      'harbor-2': replica('harbor-2'),
      nginx: { image: NGINX_IMAGE, network_mode: 'host', volumes: ['./nginx.host-network.conf:/etc/nginx/nginx.conf:ro'] },
      postgres: { image: POSTGRES_IMAGE, network_mode: 'host', environment: { PGPORT: String(ports.postgres), PGLISTEN: '127.0.0.1' } },
    },
  };
  writeFileSync(join(bundle, 'override.yaml'), stringify(override));
  // The one change an override cannot make: Compose 1.29 merges lists and has no !reset, and a
  // published port is refused with host networking (nginx listens on the host's loopback itself).
  const exported = parseDocument(readFileSync(join(bundle, 'compose.yaml'), 'utf8'));
  exported.deleteIn(['services', 'nginx', 'ports']);
  writeFileSync(join(bundle, 'compose.host-network.yaml'), exported.toString());
}

// Its own bound, not the runner's 120 s per test: on a machine without the images it makes a Debian
// root with debootstrap and builds two images (158 s on a slow day here), each step bounded itself.
before(async () => {
  if (skip) return;
  const started = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'harbor-containers-'));
  engine = await startEngine(join(dir, 'dockerd.log'));
  say(`engine up (${engine.ours ? 'started' : 'already running'})`);
  ensureBaseImage(process.execPath, say);
  ensureServiceImages();
  say(`images ready after ${Math.round((Date.now() - started) / 1000)} s`);

  const laptop = join(dir, 'laptop');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ docs: { folder: join(dir, 'docs') } }));
  token = (JSON.parse(harborCli(['token', 'add', 'alice', '--json'], { HARBOR_HOME: laptop })) as { token: string }).token;
  const bundle = join(dir, 'bundle');
  harborCli(['export', bundle, '--config', config, '--with-tokens', '--json'], { HARBOR_HOME: laptop });
  freshDist(bundle);
  for (const name of ['harbor-1', 'harbor-2', 'nginx', 'postgres']) ports[name] = await freePort();
  base = `http://127.0.0.1:${ports.nginx}`;
  writeOverride(bundle);

  docker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '-t', HOST_IMAGE, bundle], { timeoutMs: 5 * 60_000 });
  say(`host image built after ${Math.round((Date.now() - started) / 1000)} s`);
  compose(['up', '-d', '--no-build']);
  await until('every service healthy', 120_000, allHealthy(['postgres', 'harbor-1', 'harbor-2', 'nginx']));
  say(`compose healthy after ${Math.round((Date.now() - started) / 1000)} s`);
}, { timeout: 20 * 60_000 });

after(async () => {
  if (dir && !skip) {
    try {
      compose(['down', '-v', '--timeout', '5']);
    } catch (error) {
      say(`compose down: ${(error as Error).message}`);
    }
  }
  await engine?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the built image runs as a non-root user with its healthcheck, behind nginx', { skip }, async () => {
  const id = containerOf('harbor-1');
  assert.equal(inspect(id, '{{.Config.User}}'), 'harbor');
  assert.match(inspect(id, '{{json .Config.Healthcheck.Test}}'), /\/health/);
  assert.equal(inspect(id, '{{.HostConfig.RestartPolicy.Name}}'), 'always');
  assert.equal(inspect(id, '{{.HostConfig.Memory}}'), String(1536 * 1024 * 1024));
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'green');
});

test('a tool call through nginx, with the token moved as a hash', { skip }, async () => {
  const client = await connectClient(base, 'docs', token);
  try {
    const listed = await client.callTool({ name: 'list_docs', arguments: {} });
    assert.equal(listed.isError, undefined, JSON.stringify(listed));
    assert.match(JSON.stringify(listed.content), /welcome/i);
  } finally {
    await client.close();
  }
});

test('restart: always brings back a replica whose process was killed', { skip }, async () => {
  const id = containerOf('harbor-1');
  const restarts = Number(inspect(id, '{{.RestartCount}}'));
  const pid = Number(inspect(id, '{{.State.Pid}}'));
  assert.ok(pid > 0);
  process.kill(pid, 'SIGKILL'); // as an out-of-memory kill or a crash would: not a `docker stop`
  await until('the container restarted', 60_000, () => (Number(inspect(id, '{{.RestartCount}}')) > restarts ? true : null));
  await until('the restarted replica healthy', 90_000, allHealthy(['harbor-1']));
  const direct = await fetch(`http://127.0.0.1:${ports['harbor-1']}/health`);
  assert.equal(direct.status, 200);
  await direct.body?.cancel();
  const client = await connectClient(base, 'docs', token);
  try {
    const listed = await client.callTool({ name: 'list_docs', arguments: {} });
    assert.equal(listed.isError, undefined);
  } finally {
    await client.close();
  }
});
