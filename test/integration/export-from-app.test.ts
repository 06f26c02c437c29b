/**
 * "Move to a server…" as the app runs it: the renderer's HTTP adapter (HttpHostApi) calls the admin
 * API of a real host child, which relays the export to its HostController (what the Electron main
 * process and `harbor serve` run), which writes the bundle with `harbor export`'s code.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HostController } from '../../main/core/host-controller.ts';
import { HostApiError, HttpHostApi } from '../../renderer/host-api.ts';
import { silentLogger } from '../../server/logger.ts';
import { FIXTURE_SERVER, tempHome } from '../helpers/harbor.ts';

const SECRET_VALUE = 'sk-live-0123456789abcdefghijklmnop';

let home: ReturnType<typeof tempHome>;
let out: string;
let controller: HostController;
let api: HttpHostApi;
let aliceToken = '';

before(async () => {
  home = tempHome();
  out = mkdtempSync(join(tmpdir(), 'harbor-export-app-'));
  writeFileSync(
    join(home.home, 'config.json'),
    JSON.stringify({ mcpServers: { fixture: { command: process.execPath, args: [FIXTURE_SERVER], env: { FIXTURE_API_KEY: SECRET_VALUE } } }, docs: false }),
  );
  controller = new HostController({ home: home.home, port: 0, logger: silentLogger });
  const ready = await controller.start();
  api = new HttpHostApi({ baseUrl: ready.url, secret: controller.adminSecret });
  aliceToken = (await api.addTeammate('alice')).token;
});

after(async () => {
  await controller?.stop();
  home?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

test('exportBundle over HTTP writes the bundle: the files, hashed tokens only, secrets as references, the README\'s three deploy paths, the warnings', async () => {
  const dir = join(out, 'bundle');
  const result = await api.exportBundle({ dir, withTokens: true });

  assert.equal(result.dir, dir);
  for (const file of ['Dockerfile', 'compose.yaml', 'nginx.conf', 'config.json', 'k8s/deployment.yaml', 'README.md', 'tokens.json', 'harbor/dist/main/cli.js']) {
    assert.ok(existsSync(join(dir, file)), `${file} written`);
  }
  assert.ok(result.files.includes('tokens.json') && result.files.includes('harbor/'));
  assert.equal(result.readme, join(dir, 'README.md'));

  // The team moves over as hashes: alice is there, her clear token is nowhere in the bundle's text files.
  const tokens = readFileSync(join(dir, 'tokens.json'), 'utf8');
  assert.equal(result.teammates, 1);
  assert.match(tokens, /"alice"/);
  assert.ok(!tokens.includes(aliceToken));
  // The hosted server's secret left config.json for an environment reference the bundle lists.
  const config = readFileSync(join(dir, 'config.json'), 'utf8');
  assert.ok(!config.includes(SECRET_VALUE));
  assert.match(config, /"FIXTURE_API_KEY": "\$\{FIXTURE_API_KEY\}"/);
  assert.deepEqual(result.variables.map((v) => v.name), ['FIXTURE_API_KEY']);

  // This laptop's paths (node's binary, the fixture script) cannot run in a container: warned.
  assert.ok(result.warnings.some((w) => w.includes('mcpServers.fixture: command') && w.includes(process.execPath)), result.warnings.join('\n'));
  assert.ok(result.warnings.some((w) => w.includes('mcpServers.fixture.args[0]')), result.warnings.join('\n'));

  // Next steps are the README's own deploy sections, in its order and words.
  assert.deepEqual(result.nextSteps.map((s) => s.title), ['On a VM with Docker Compose', 'On ECS Fargate behind an ALB', 'On Kubernetes']);
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  for (const step of result.nextSteps) assert.ok(readme.includes(step.text), `${step.title}: text as in the README`);
  assert.match(result.nextSteps[0]!.text, /docker compose up -d --build/);
  assert.match(result.nextSteps[1]!.text, /idle timeout is raised to 300 s/);
  assert.match(result.nextSteps[2]!.text, /kubectl apply/);
});

test('exportBundle refuses, with the right status and nothing overwritten: a folder in use (409), a relative path (400), a wrong field (400)', async () => {
  const dir = join(out, 'in-use');
  mkdirSync(dir);
  writeFileSync(join(dir, 'notes.txt'), 'mine\n');
  await assert.rejects(api.exportBundle({ dir }), (error: unknown) => {
    assert.ok(error instanceof HostApiError);
    assert.equal(error.status, 409);
    assert.match(error.message, /exists and is not empty/);
    return true;
  });
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine\n');
  assert.ok(!existsSync(join(dir, 'Dockerfile')));

  await assert.rejects(api.exportBundle({ dir: 'relative/bundle' }), (error: unknown) => error instanceof HostApiError && error.status === 400 && /absolute path/.test(error.message));
  await assert.rejects(api.exportBundle({ dir: join(out, 'x'), withTokens: 'yes' as unknown as boolean }), (error: unknown) => error instanceof HostApiError && error.status === 400 && /withTokens/.test(error.message));
  assert.ok(!existsSync(join(out, 'x')));

  // The host is unharmed: it still answers, and force replaces the folder.
  assert.equal((await api.status()).servers[0]?.name, 'fixture');
  const forced = await api.exportBundle({ dir, force: true });
  assert.equal(forced.teammates, 0);
  assert.ok(existsSync(join(dir, 'Dockerfile')) && !existsSync(join(dir, 'notes.txt')) && !existsSync(join(dir, 'tokens.json')));
});

test('exportBundle needs the admin secret: 401 and no folder', async () => {
  const stranger = new HttpHostApi({ baseUrl: (await api.status()).host.url, secret: 'not-the-secret' });
  const dir = join(out, 'stranger');
  await assert.rejects(stranger.exportBundle({ dir }), (error: unknown) => error instanceof HostApiError && error.status === 401);
  assert.ok(!existsSync(dir));
});
