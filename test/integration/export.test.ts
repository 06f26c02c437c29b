/**
 * `harbor export <dir>` run as users run it (the CLI, a real HARBOR_HOME with a token), its bundle
 * checked by the tools that will read it: Compose's own parser, the Kubernetes API schemas, and
 * Harbor's config loader for the carried config.json.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { ConfigError, loadConfig } from '../../server/config/load-config.ts';
import { carryConfig } from '../../main/core/export/carry-config.ts';
import { ROOT, tempHome } from '../helpers/harbor.ts';

const GITHUB_SECRET = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';
const EMBEDDINGS_SECRET = 'sk-embeddings-secret-0123456789abcdef';

function harbor(args: string[], home: string) {
  return spawnSync(process.execPath, [join(ROOT, 'main/cli.ts'), ...args], { env: { ...process.env, HARBOR_HOME: home }, encoding: 'utf8', timeout: 60_000 });
}

function* filesUnder(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

function laptopConfig(home: string): string {
  const file = join(home, 'config.json');
  writeFileSync(file, JSON.stringify({
    mcpServers: {
      github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: GITHUB_SECRET, LOG_LEVEL: 'debug' } },
      fetch: { command: 'uvx', args: ['mcp-server-fetch'] },
      mine: { command: '/Users/dana/bin/my-server', args: ['--root', '/Users/dana/projects'], cwd: '/Users/dana' },
    },
    docs: { folder: '~/Team Docs', embeddings: { baseUrl: 'https://api.example.com/v1', model: 'e', apiKeys: [EMBEDDINGS_SECRET] } },
    maxBodyBytes: 1_000_000,
    limits: { requestsPerSecond: 20, burst: 40, sessionsPerTeammate: 5 },
  }));
  return file;
}

test('export: every file of the bundle, no clear secret in any, warnings for what cannot run in a container', async () => {
  const { home, cleanup } = tempHome();
  try {
    laptopConfig(home);
    const issued = JSON.parse(harbor(['token', 'add', 'alice', '--json'], home).stdout) as { token: string };
    const dir = join(home, 'bundle');
    const run = harbor(['export', dir, '--with-tokens'], home);
    assert.equal(run.status, 0, run.stderr);
    for (const file of ['Dockerfile', 'compose.yaml', 'nginx.conf', 'config.json', 'README.md', '.env.example', 'tokens.json',
      'k8s/deployment.yaml', 'k8s/service.yaml', 'k8s/ingress.yaml', 'k8s/hpa.yaml', 'k8s/secret.yaml', 'harbor/dist/main/cli.js',
      'harbor/node_modules/better-sqlite3/package.json']) {
      assert.ok(existsSync(join(dir, file)), file);
    }
    assert.ok(!existsSync(join(dir, 'harbor/node_modules/typescript')), 'development packages stay out of the image');
    for (const file of filesUnder(dir)) {
      const text = readFileSync(file, 'latin1');
      for (const secret of [GITHUB_SECRET, EMBEDDINGS_SECRET, issued.token]) assert.ok(!text.includes(secret), `${file} holds a secret`);
    }
    assert.match(run.stderr, /warning: mcpServers\.mine: command "\/Users\/dana\/bin\/my-server" is a path on this machine/);
    assert.match(run.stderr, /warning: mcpServers\.mine\.args\[1\]: "\/Users\/dana\/projects" is a path on this machine/);
    assert.match(run.stderr, /warning: mcpServers\.mine\.cwd/);
    assert.doesNotMatch(run.stderr, /mcpServers\.(github|fetch)/);
    assert.match(run.stdout, /set GITHUB_TOKEN, LOG_LEVEL, HARBOR_EMBEDDINGS_API_KEYS/);

    const tokens = JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8')) as { teammates: Array<{ name: string; sha256: string }> };
    assert.deepEqual(tokens.teammates.map((t) => t.name), ['alice']);
    assert.match(tokens.teammates[0]!.sha256, /^[0-9a-f]{64}$/);
    assert.equal(statSync(join(dir, 'tokens.json')).mode & 0o777, 0o600);

    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG BASE_IMAGE=node:24-slim$/m);
    assert.match(dockerfile, /^USER harbor$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/health/m);
    assert.match(dockerfile, /python3/, 'a uvx entry brings Python');
    assert.match(dockerfile, /COPY --from=uv \/uv \/uvx/);
    assert.match(dockerfile, /COPY --chown=harbor:harbor tokens\.json/);

    const nginx = readFileSync(join(dir, 'nginx.conf'), 'utf8');
    for (const line of ['proxy_read_timeout 300s;', 'proxy_send_timeout 300s;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";',
      'proxy_buffering off;', 'client_max_body_size 1000000;', 'proxy_next_upstream error timeout;', 'keepalive 64;']) {
      assert.ok(nginx.includes(line), line);
    }
    const ingress = readFileSync(join(dir, 'k8s/ingress.yaml'), 'utf8');
    assert.match(ingress, /proxy-body-size: "1000000"/);
  } finally {
    cleanup();
  }
});

test('export: the carried config.json names its secrets, and Harbor resolves them from the environment', () => {
  const { home, cleanup } = tempHome();
  try {
    laptopConfig(home);
    const dir = join(home, 'bundle');
    assert.equal(harbor(['export', dir], home).status, 0);
    const carried = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
    assert.deepEqual(carried.mcpServers.github.env, { GITHUB_TOKEN: '${GITHUB_TOKEN}', LOG_LEVEL: '${LOG_LEVEL}' });
    assert.equal(carried.mcpServers.mine.cwd, undefined);
    assert.deepEqual(carried.docs.embeddings, { baseUrl: 'https://api.example.com/v1', model: 'e', apiKeysEnv: 'HARBOR_EMBEDDINGS_API_KEYS' });
    assert.equal(carried.docs.folder, '/var/lib/harbor/docs');
    assert.deepEqual(carried.limits, { requestsPerSecond: 20, burst: 40, sessionsPerTeammate: 5 });
    assert.equal(carried.host, '0.0.0.0');

    const file = join(dir, 'config.json');
    const { config } = loadConfig(file, { docsFolder: '/unused' }, { GITHUB_TOKEN: 'from-env', LOG_LEVEL: 'info' });
    assert.deepEqual(config.mcpServers.github!.env, { GITHUB_TOKEN: 'from-env', LOG_LEVEL: 'info' });
    assert.throws(() => loadConfig(file, { docsFolder: '/unused' }, { LOG_LEVEL: 'info' }), (error: ConfigError) => {
      assert.deepEqual(error.problems, ["mcpServers.github.env.GITHUB_TOKEN: ${GITHUB_TOKEN} is not set in Harbor's environment"]);
      return true;
    });
    const env = readFileSync(join(dir, '.env.example'), 'utf8');
    assert.match(env, /^GITHUB_TOKEN=$/m);
    assert.match(env, /^POSTGRES_PASSWORD=$/m);
  } finally {
    cleanup();
  }
});

test('export: an existing non-empty folder is refused unless --force; no Python without a Python server', () => {
  const { home, cleanup } = tempHome();
  try {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ mcpServers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] } } }));
    const dir = join(home, 'bundle');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    const refused = harbor(['export', dir], home);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /exists and is not empty; .* --force/);
    assert.equal(readFileSync(join(dir, 'keep.txt'), 'utf8'), 'mine');
    const forced = harbor(['export', dir, '--force'], home);
    assert.equal(forced.status, 0, forced.stderr);
    assert.ok(!existsSync(join(dir, 'keep.txt')));
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.doesNotMatch(dockerfile, /python|uvx/i);
    assert.doesNotMatch(dockerfile, /tokens\.json/);
    assert.equal(forced.stderr.match(/warning/g)?.length, 1, `only the docs folder warning: ${forced.stderr}`);
  } finally {
    cleanup();
  }
});

test('export: the k8s manifests are valid against the Kubernetes API schemas', () => {
  const { home, cleanup } = tempHome();
  try {
    laptopConfig(home);
    const dir = join(home, 'bundle');
    assert.equal(harbor(['export', dir], home).status, 0);
    const models: Record<string, new (data: never) => { validate(): void }> = { Deployment, Service, Ingress, HorizontalPodAutoscaler, Secret };
    const kinds: string[] = [];
    for (const file of readdirSync(join(dir, 'k8s'))) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, 'k8s', file), 'utf8'))) {
        const manifest = doc.toJS() as { kind: string };
        const Model = models[manifest.kind];
        assert.ok(Model, `${file}: kind ${manifest.kind}`);
        new Model(manifest as never).validate();
        kinds.push(manifest.kind);
      }
    }
    assert.deepEqual(kinds.sort(), ['Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Secret', 'Service']);
    const deployment = parse(readFileSync(join(dir, 'k8s/deployment.yaml'), 'utf8'));
    assert.equal(deployment.spec.replicas, 2);
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.livenessProbe.httpGet.path, '/health');
    assert.equal(container.readinessProbe.httpGet.path, '/health');
    assert.ok(container.resources.requests && container.resources.limits);
    // A schema check that cannot fail proves nothing: a wrong type must be refused.
    assert.throws(() => new Deployment({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }).validate(), /replicas/);
  } finally {
    cleanup();
  }
});

const compose = existsSync('/usr/bin/docker-compose') ? '/usr/bin/docker-compose' : null;
test('export: docker-compose validates compose.yaml: two replicas, nginx, PostgreSQL 15, limits, restart always', { skip: compose ? false : 'docker-compose is not installed (apt-get install -y docker-compose; .ci/run does)' }, () => {
  const { home, cleanup } = tempHome();
  try {
    laptopConfig(home);
    const dir = join(home, 'bundle');
    assert.equal(harbor(['export', dir], home).status, 0);
    const env = { ...process.env, POSTGRES_PASSWORD: 'pw', GITHUB_TOKEN: 'g', LOG_LEVEL: 'l', HARBOR_EMBEDDINGS_API_KEYS: 'k' };
    const checked = spawnSync(compose!, ['-f', 'compose.yaml', 'config'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(checked.status, 0, checked.stderr);
    const config = parse(checked.stdout) as { services: Record<string, any>; volumes: Record<string, unknown> };
    assert.deepEqual(Object.keys(config.services).sort(), ['harbor-1', 'harbor-2', 'nginx', 'postgres']);
    for (const [name, service] of Object.entries(config.services)) {
      assert.equal(service.restart, 'always', name);
      assert.ok(service.healthcheck, `${name} has a healthcheck`);
    }
    assert.match(String(config.services['harbor-1'].mem_limit), /^(1536m|1610612736)$/);
    assert.match(String(config.services.nginx.mem_limit), /^(100m|104857600)$/);
    assert.match(String(config.services.postgres.mem_limit), /^(400m|419430400)$/);
    assert.match(config.services.postgres.image, /^postgres:15/);
    assert.equal(config.services['harbor-1'].environment.GITHUB_TOKEN, 'g');
    assert.equal(config.services['harbor-2'].environment.HARBOR_REPLICA, 'harbor-2');
    assert.match(config.services['harbor-1'].environment.HARBOR_DATABASE_URL, /^postgres:\/\/harbor:pw@postgres:5432\/harbor$/);
    assert.ok('harbor-pgdata' in config.volumes);
    // A secret that is not set stops compose with its name, instead of starting a host without it.
    const missing = spawnSync(compose!, ['-f', 'compose.yaml', 'config'], { cwd: dir, env: { ...env, GITHUB_TOKEN: '' }, encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /GITHUB_TOKEN/);
  } finally {
    cleanup();
  }
});

test('carryConfig: a key two servers use gets one variable per server; an existing reference is kept; per-copy values become a variable', () => {
  const carried = carryConfig({
    mcpServers: {
      a: { command: 'npx', env: { API_KEY: 'one' } },
      'b-2': { command: 'npx', env: { API_KEY: 'two', URL: '${SHARED_URL}' } },
      c: { command: 'node', env: { URL: '${SHARED_URL}' }, replicas: 2, replicaEnv: { NOTION_TOKEN: ['secret-1', 'secret-2'], OTHER: { env: 'OTHER_KEYS' } } },
    },
    docs: false,
  }, 7837);
  const servers = carried.config.mcpServers as Record<string, { env: Record<string, string> }>;
  assert.deepEqual(servers.a!.env, { API_KEY: '${A_API_KEY}' });
  assert.deepEqual(servers['b-2']!.env, { API_KEY: '${B_2_API_KEY}', URL: '${SHARED_URL}' });
  assert.deepEqual(servers.c, { command: 'node', env: { URL: '${SHARED_URL}' }, replicas: 2, replicaEnv: { NOTION_TOKEN: { env: 'C_NOTION_TOKEN_VALUES' }, OTHER: { env: 'OTHER_KEYS' } } });
  assert.doesNotMatch(JSON.stringify(carried.config), /secret-/);
  assert.deepEqual(carried.variables.map((v) => v.name), ['A_API_KEY', 'B_2_API_KEY', 'SHARED_URL', 'C_NOTION_TOKEN_VALUES', 'OTHER_KEYS']);
  assert.equal(carried.config.docs, false);
  assert.deepEqual(carried.warnings, []);
  assert.equal(carried.needsPython, false);
});
