/**
 * "Move to a server…" in Debian's Chromium (playwright-core) against a real in-process host, set up as
 * test/e2e/renderer.test.ts does: the browser dashboard types the folder (HTTP adapter), the popover's
 * bridge offers a picked one (IPC adapter, the native picker stood in for), and both get the bundle
 * on disk with the README's next steps and the warnings on screen.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeBundle } from '../../main/core/export/write-bundle.ts';
import { HttpHostApi } from '../../renderer/host-api.ts';
import { HOST_API_METHODS } from '../../server/admin/host-api.ts';
import { harborPaths } from '../../server/harbor-home.ts';
import { FIXTURE_SERVER, ROOT, startTestHost, waitFor, type TestHost } from '../helpers/harbor.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.HARBOR_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : mkdtempSync(join(tmpdir(), 'harbor-shots-'));
const SECRET = 'e2e-admin-secret-move-to-server-0123';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`;

let harbor: TestHost;
let out: string;
let browser: Browser;

before(async () => {
  if (skip) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  out = mkdtempSync(join(tmpdir(), 'harbor-e2e-export-'));
  harbor = await startTestHost(
    { docs: false, mcpServers: { fixture: { command: process.execPath, args: [FIXTURE_SERVER] } } },
    {
      adminSecret: SECRET,
      // The supervisor's part, played by the test as renderer.test.ts plays the ShareController's:
      // the export itself, with the same code the HostController runs.
      exportBundle: (request) =>
        writeBundle({
          dir: request.dir,
          withTokens: request.withTokens === true,
          force: request.force === true,
          configFile: join(harbor.home, 'config.json'),
          databaseFile: harborPaths(harbor.home).database,
        }),
    },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await harbor?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** The page's own errors; failed requests the UI answers itself (404/501: a missing part, 409: the refused export) aside, as renderer.test.ts does. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of (40[149]|501)/.test(message.text())) errors.push(message.text());
  });
  return errors;
}

async function expectBundleShown(page: Page, dir: string): Promise<void> {
  const done = page.locator('#panel-share .export-done');
  await done.waitFor({ timeout: 60_000 });
  assert.match(await done.innerText(), new RegExp(`Bundle written to ${dir.replace(/[/.]/g, '\\$&')}`));
  assert.deepEqual(await page.locator('#panel-share .deploy-path summary').allInnerTexts(), ['On a VM with Docker Compose', 'On ECS Fargate behind an ALB', 'On Kubernetes']);
  const warnings = await page.locator('#panel-share .export-warnings li').allInnerTexts();
  assert.ok(warnings.some((w) => w.includes(process.execPath)), warnings.join('\n'));
  for (const file of ['Dockerfile', 'compose.yaml', 'nginx.conf', 'README.md', 'harbor/dist/main/cli.js']) assert.ok(existsSync(join(dir, file)), file);
}

test('browser dashboard: Move to a server… asks for a folder, writes the bundle, shows the three deploy paths and the warnings; a folder in use is refused on screen', { skip, timeout: 120_000 }, async () => {
  const page = await (await browser.newContext({ viewport: { width: 760, height: 900 }, colorScheme: 'light' })).newPage();
  const errors = watchErrors(page);
  await page.goto(`${harbor.url}/app/?tab=share#secret=${SECRET}`);
  await page.getByRole('tab', { name: 'Share' }).click();
  await page.getByRole('button', { name: 'Move to a server…' }).click();
  // A browser has no picker for the host's disk: the path is typed.
  const field = page.getByLabel('Folder on this computer for the bundle');
  await field.waitFor();
  assert.equal(await field.inputValue(), '');
  const dir = join(out, 'typed');
  await field.fill(dir);
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await expectBundleShown(page, dir);
  assert.ok(existsSync(join(dir, 'tokens.json')), 'tokens copied (the box is ticked by default)');
  // Compose is open at once; another path opens on a click.
  const compose = page.locator('#panel-share .deploy-path', { hasText: 'On a VM with Docker Compose' }).locator('pre');
  await compose.waitFor();
  assert.match(await compose.innerText(), /docker compose up -d --build/);
  const kubernetes = page.locator('#panel-share .deploy-path', { hasText: 'On Kubernetes' });
  assert.equal(await kubernetes.locator('pre').isVisible(), false);
  await kubernetes.locator('summary').click();
  await kubernetes.locator('pre').waitFor();
  assert.match(await kubernetes.locator('pre').innerText(), /kubectl apply/);
  await page.screenshot({ path: join(SCREENSHOTS, 'move-to-server.png'), fullPage: true });

  // The same folder again: not empty, so refused, and the message is on screen.
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  const refusal = page.locator('#panel-share .move-to-server [role="alert"]');
  await refusal.waitFor({ timeout: 30_000 });
  assert.match(await refusal.innerText(), /exists and is not empty/);
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('popover (IPC adapter): the native folder picker fills the folder; untick tokens; the bundle is written without them', { skip, timeout: 120_000 }, async () => {
  const api = new HttpHostApi({ baseUrl: harbor.url, secret: SECRET }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const picked = join(out, 'picked');
  const purposes: unknown[] = [];
  const context = await browser.newContext({ viewport: { width: 420, height: 600 }, colorScheme: 'dark' });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // Stands in for preload + main (main/shell/ipc-bridge.ts): chooseFolder is the native dialog there.
  await page.exposeFunction('__harborInvoke', (method: string, args: unknown[]) => {
    if (method === 'chooseFolder') {
      purposes.push(args[0]);
      return picked;
    }
    return api[method]!(...args);
  });
  await page.addInitScript((methods: readonly string[]) => {
    const scope = globalThis as unknown as { harbor: unknown; __harborInvoke: (m: string, a: unknown[]) => Promise<unknown> };
    const invoke = scope.__harborInvoke;
    scope.harbor = Object.freeze(Object.fromEntries(methods.map((m) => [m, (...args: unknown[]) => invoke(m, args)])));
  }, HOST_API_METHODS);
  try {
    await page.goto(`${harbor.url}/app/?tab=share`);
    await page.getByRole('button', { name: 'Move to a server…' }).click();
    const field = page.getByLabel('Folder on this computer for the bundle');
    await waitFor(async () => (await field.inputValue()) === picked || null, 10_000, 'the picked folder in the field');
    assert.deepEqual(purposes, ['export']);
    assert.equal(await field.inputValue(), picked);
    await page.getByLabel("Copy the team's tokens (hashed: teammates keep the token they have)").uncheck();
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await expectBundleShown(page, picked);
    assert.ok(!existsSync(join(picked, 'tokens.json')));
    await page.screenshot({ path: join(SCREENSHOTS, 'move-to-server-popover-dark.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
