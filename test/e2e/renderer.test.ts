/**
 * The renderer in Debian's Chromium (playwright-core) against a real in-process host, over the HTTP
 * adapter: the browser dashboard at /app. Screenshots of each section go to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ShareController, type ShareRequest } from '../../main/core/share-controller.ts';
import { HOST_API_METHODS } from '../../server/admin/host-api.ts';
import { HttpHostApi } from '../../renderer/host-api.ts';
import { serveAppAsset } from '../../server/http/app-assets.ts';
import { silentLogger } from '../../server/logger.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, FIXTURE_SERVER, ROOT, startTestHost, tempHome, waitFor, type TestHost } from '../helpers/harbor.ts';
import { adminFetch, MemoryOAuthClient, openAuthorize, pollWait, submitSignIn } from '../helpers/oauth-browser.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// `HARBOR_SCREENSHOTS=1 npm test` refreshes the committed screenshots; a plain run writes to a temp dir.
const SCREENSHOTS = process.env.HARBOR_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : mkdtempSync(join(tmpdir(), 'harbor-shots-'));
const SECRET = 'e2e-admin-secret-0123456789abcdef';
/** The repository's stand-in for cloudflared: a local "edge", a quick-tunnel URL, /ready; no internet. */
const STANDIN = join(ROOT, 'test/fixtures/cloudflared-standin/cloudflared');
const STARTED = Date.now();

let harbor: TestHost;
let docsFolder: string;
let shareHome: ReturnType<typeof tempHome>;
let shareController: ShareController;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
const adminUrls: string[] = [];

/**
 * Until host-server.ts routes /app itself, put serveAppAsset in front of the host's own handler on the
 * same server: the page then talks to the real host from the same origin, exactly as once wired.
 */
async function ensureAppRoute(host: TestHost): Promise<void> {
  const probe = await fetch(`${host.url}/app/`);
  await probe.body?.cancel();
  if (probe.ok) return;
  const server = host.host.httpServer;
  const original = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    serveAppAsset(req, res, path).then(
      (served) => {
        if (!served) for (const listener of original) listener.call(server, req, res);
      },
      () => res.destroy(),
    );
  });
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(harbor.url + path, {
    method,
    headers: { 'X-Harbor-Admin-Secret': SECRET, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function openTab(name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await waitFor(async () => (await page.getByRole('tab', { name }).getAttribute('aria-selected')) === 'true', 5000, `${name} tab`);
}

/** Runs in the page; typed structurally because this file is checked without the DOM library. */
function readClipboard(on: Page): Promise<string> {
  return on.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
}

async function screenshot(name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  docsFolder = mkdtempSync(join(tmpdir(), 'harbor-e2e-docs-'));
  writeFileSync(join(docsFolder, 'welcome.md'), '# Team docs\nHow we deploy.\n');
  // Sharing as main runs it (ShareController beside the host), with the stand-in cloudflared.
  shareHome = tempHome();
  shareController = new ShareController({
    home: shareHome.home,
    logger: silentLogger,
    tunnel: { binaryPath: STANDIN, env: { ...process.env, STANDIN_STATE_FILE: join(shareHome.home, 'standin.json') } },
  });
  harbor = await startTestHost(
    {
      docs: { folder: docsFolder },
      mcpServers: {
        fixture: { command: process.execPath, args: [FIXTURE_SERVER] },
        flaky: { command: process.execPath, args: [FIXTURE_SERVER], env: { FIXTURE_EXIT_AT_ONCE: '1' }, restart: { maxCrashes: 3, windowSeconds: 60 } },
      },
    },
    {
      adminSecret: SECRET,
      metricsSampleMs: 250,
      share: {
        get: () => shareController.state,
        start: (request) => shareController.start(request as unknown as ShareRequest),
        stop: () => shareController.stop(),
      },
    },
  );
  shareController.setHostPort(harbor.host.port);
  shareController.onChange = (state) => harbor.host.applyShareState(state);
  await ensureAppRoute(harbor);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  context = await browser.newContext({ viewport: { width: 760, height: 900 }, colorScheme: 'light' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: harbor.url });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[14]|status of 501/.test(message.text())) pageErrors.push(message.text());
  });
  page.on('request', (request) => {
    if (request.url().includes('/admin/')) adminUrls.push(request.url());
  });
  await page.goto(`${harbor.url}/app#secret=${SECRET}`);
  await page.getByRole('tablist', { name: 'Harbor sections' }).waitFor({ timeout: 10_000 });
});

after(async () => {
  await browser?.close();
  await shareController?.shutdown();
  await harbor?.close();
  shareHome?.cleanup();
  if (docsFolder) rmSync(docsFolder, { recursive: true, force: true });
});

test('served with a strict CSP; the page reaches neither require nor process', async () => {
  const res = await fetch(`${harbor.url}/app/main.ts`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self';.*frame-ancestors 'none'/);
  assert.doesNotMatch(await res.text(), /import type|: HostApi\b/, 'types are stripped');
  const reach = await page.evaluate(() => ({
    require: typeof (globalThis as { require?: unknown }).require,
    process: typeof (globalThis as { process?: unknown }).process,
    module: typeof (globalThis as { module?: unknown }).module,
  }));
  assert.deepEqual(reach, { require: 'undefined', process: 'undefined', module: 'undefined' });
});

test('the admin secret leaves the address bar and never travels in a URL', async () => {
  assert.doesNotMatch(page.url(), /secret/);
  assert.ok(adminUrls.length > 0);
  for (const url of adminUrls) assert.doesNotMatch(url, new RegExp(SECRET));
});

test('health renders its state, reasons and the six metrics', async () => {
  await openTab('Health');
  const state = page.locator('#panel-health .state');
  await state.waitFor();
  assert.match((await state.getAttribute('data-state')) ?? '', /^(green|amber|red)$/);
  await page.locator('#panel-health .tile').first().waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#panel-health .tile').count(), 6);
});

test('health leaves green while a server crash-loops and is green again once it is removed', async () => {
  await openTab('Health');
  const state = page.locator('#panel-health .state');
  await waitFor(async () => (await state.getAttribute('data-state')) !== 'green', 15_000, 'health to leave green');
  const reasons = await page.locator('#panel-health .reasons').innerText();
  assert.match(reasons, /flaky/);
  // Amber while it restarts; red once the crash loop marks it errored (DESIGN.md section 7).
  const seen = await state.getAttribute('data-state');
  assert.match(seen ?? '', /^(amber|red)$/);
  await screenshot(`health-${seen}`);

  await openTab('Servers');
  await page.getByRole('button', { name: 'Remove flaky' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await page.locator('tr[data-server="flaky"]').waitFor({ state: 'detached', timeout: 10_000 });

  await openTab('Health');
  // Recent restarts of a removed server no longer count; green may need the next health sample.
  await waitFor(async () => (await state.getAttribute('data-state')) === 'green', 20_000, 'health back to green');
  assert.equal(await page.locator('.badge-health').getAttribute('data-state'), 'green');
});

/**
 * An hour of plausible samples written through the host's own history store (what its sampler does every
 * few seconds), so the charts have a full hour to draw instead of the few seconds this test has run.
 */
function seedHistory(host: TestHost): void {
  const now = Date.now();
  for (let i = 360; i >= 1; i--) {
    const wave = Math.sin(i / 20);
    host.host.observability.history.record(
      {
        latency_p95_ms: { 'fixture/echo': 180 + 90 * wave + (i % 37 === 0 ? 900 : 0), 'docs/search_docs': 40 + 10 * wave },
        error_rate: { fixture: i % 50 < 3 ? 0.04 : 0.004 },
        memory_ratio: { host: 0.38 + 0.04 * wave, fixture: 0.17 + (360 - i) / 3000 },
        cache_hit_ratio: { embeddings: 0.82 + 0.08 * wave },
        open_connections: { sessions: Math.round(4 + 2 * wave), streams: Math.round(2 + wave) },
        ratelimit_remaining_ratio: { embeddings: 0.55 + 0.3 * Math.cos(i / 30) },
      },
      now - i * 10_000,
    );
  }
}

test('charts render with data from the last hour', async (t) => {
  const history = await admin<{ series?: unknown[] }>('GET', `/admin/metrics/history?metric=open_connections&since=${Date.now() - 3_600_000}`);
  if (history.status === 404 || history.status === 501) {
    t.skip(`this host has no /admin/metrics/history yet (HTTP ${history.status})`);
    return;
  }
  seedHistory(harbor);
  // Real calls, so the activity log and the latency tile have something of their own.
  const client = await connectClient(harbor.url, 'fixture', harbor.token);
  for (let i = 0; i < 5; i++) await client.callTool({ name: 'echo', arguments: { message: `hello ${i}` } });
  await client.callTool({ name: 'fail', arguments: {} }).catch(() => undefined);
  await client.close();
  await page.reload();
  await page.getByRole('tablist').waitFor();
  await openTab('Servers');
  await openTab('Health');
  // History is written every sample; the UI reloads charts every 30 s, so reopen the tab until one has points.
  await waitFor(
    async () => {
      const points = await page.locator('#panel-health .chart[data-points]').evaluateAll((els) => els.map((e) => Number((e as unknown as { dataset: { points?: string } }).dataset.points)));
      if (points.filter((n) => n > 100).length >= 6) return true;
      await page.reload();
      await page.getByRole('tablist').waitFor();
      return false;
    },
    20_000,
    'a chart with points',
  );
  const canvases = await page.locator('#panel-health .chart canvas').count();
  assert.ok(canvases > 0, 'uPlot drew at least one canvas');
  await screenshot('health');
});

test('activity: dates on calls of other days, the tool\'s error text, older calls page by page', async () => {
  // Older calls than today's, more than a page of them, written through the host's own audit log.
  const yesterday = new Date();
  yesterday.setDate(yesterday.getDate() - 1);
  yesterday.setHours(12, 0, 0, 0);
  for (let i = 0; i < 120; i++) {
    harbor.host.audit.record({ teammate: i % 3 ? 'alice' : 'carol', server: 'fixture', method: 'tools/call', tool: 'echo', durationMs: 20 + i, ok: i % 10 !== 0, ...(i % 10 === 0 ? { error: 'upstream said no' } : {}), at: yesterday.getTime() - i * 60_000 });
  }
  await harbor.host.audit.flush();
  const all = (await admin<{ entries: Array<{ id: number }> }>('GET', '/admin/activity?limit=1000')).body.entries;
  assert.ok(all.length >= 126, `${all.length} entries`);
  const bad = await admin<unknown>('GET', '/admin/activity?before=soon');
  assert.equal(bad.status, 400);

  await openTab('Activity');
  const rows = page.locator('#panel-activity tbody tr');
  await waitFor(async () => (await rows.count()) === 50, 10_000, 'the first page');
  // The fixture's failing tool, as it said it (not "tool reported an error").
  const failed = page.locator('#panel-activity tbody tr', { hasText: 'fail' }).first();
  assert.equal(await failed.locator('.error-text').innerText(), 'failed on purpose');
  // Today's calls show a time only.
  assert.match(await rows.first().locator('time').innerText(), /^\d{1,2}:\d{2}:\d{2}/);
  // The window's worth of the first page: today's calls, the failed one, then yesterday's with dates.
  await screenshot('activity', false);

  const more = page.getByRole('button', { name: 'Load older calls' });
  let clicks = 0;
  while (await more.isVisible()) {
    assert.ok(++clicks <= 5, 'paging ends');
    const before = await rows.count();
    await more.click();
    await waitFor(async () => (await rows.count()) > before || !(await more.isVisible()), 10_000, 'an older page');
  }
  assert.equal(await rows.count(), all.length);
  const ids = await rows.evaluateAll((els) => els.map((e) => Number((e as unknown as { dataset: { id: string } }).dataset.id)));
  assert.deepEqual(ids, all.map((e) => e.id), 'every call once, newest first');
  // Yesterday's calls carry their date; their errors their text.
  const old = rows.last();
  assert.doesNotMatch(await old.locator('time').innerText(), /^\d{1,2}:\d{2}:\d{2}/);
  assert.equal(await old.locator('time').getAttribute('datetime'), new Date(yesterday.getTime() - 119 * 60_000).toISOString());
  assert.equal(await page.locator('#panel-activity tbody tr', { hasText: 'upstream said no' }).count(), 12);
  // A poll keeps the loaded pages.
  const ticks = Number(await page.locator('body').getAttribute('data-ticks'));
  await waitFor(async () => Number(await page.locator('body').getAttribute('data-ticks')) > ticks, 10_000, 'a poll');
  assert.equal(await rows.count(), all.length);
});

test('team: add a teammate, copy the Claude Code snippet, revoke, gone', async () => {
  await openTab('Team');
  await page.getByLabel('Teammate name').fill('bob');
  await page.getByRole('button', { name: 'Add teammate' }).click();
  const bundle = page.getByRole('region', { name: 'Connect bob' });
  await bundle.waitFor();
  await page.locator('tr[data-teammate="bob"]').waitFor();

  // One Claude Code snippet for all the servers: one command per server, each with bob's token.
  await bundle.getByRole('button', { name: 'Copy Claude Code snippet' }).click();
  await page.getByRole('status').filter({ hasText: 'copied' }).waitFor({ timeout: 5000 });
  const clipboard = await readClipboard(page);
  const servers = [...harbor.host.servers.keys()];
  const commands = clipboard.split('\n');
  assert.deepEqual(commands.map((line) => /^claude mcp add --transport http (\S+) http:\/\/127\.0\.0\.1:\d+\/\S+ --header "Authorization: Bearer hbr_[^"]+"$/.exec(line)?.[1]), servers);
  // The copied token is bob's live token.
  const token = /Bearer (hbr_[^"]+)/.exec(clipboard)![1]!;
  assert.equal(harbor.host.tokens.verify(token)?.name, 'bob');

  // Claude Desktop: one mcpServers block with every server, to paste whole.
  await bundle.getByLabel('Their client').selectOption('claude-desktop');
  const desktop = JSON.parse(await bundle.locator('.snippet pre').innerText()) as { mcpServers: Record<string, { args: string[]; env: Record<string, string> }> };
  assert.deepEqual(Object.keys(desktop.mcpServers), servers);
  for (const entry of Object.values(desktop.mcpServers)) assert.equal(entry.env.AUTH_HEADER, `Bearer ${token}`);
  assert.equal(await bundle.locator('.snippet').count(), 1);

  // One-click installs per server, in Cursor's and VS Code's formats, carrying bob's token.
  for (const server of servers) {
    const row = bundle.locator(`.install-links li[data-server="${server}"]`);
    const cursor = new URL((await row.locator('a[data-client="cursor"]').getAttribute('href'))!);
    assert.equal(`${cursor.protocol}//${cursor.host}${cursor.pathname}`, 'cursor://anysphere.cursor-deeplink/mcp/install');
    const config = JSON.parse(Buffer.from(cursor.searchParams.get('config')!, 'base64').toString('utf8')) as { url: string; headers: Record<string, string> };
    assert.deepEqual(config.headers, { Authorization: `Bearer ${token}` });
    const vscode = (await row.locator('a[data-client="vscode"]').getAttribute('href'))!;
    const added = JSON.parse(decodeURIComponent(vscode.slice('vscode:mcp/install?'.length))) as { name: string; type: string; url: string };
    assert.deepEqual([added.type, added.url], ['http', config.url]);
  }
  await bundle.getByLabel('Their client').selectOption('claude-code');
  await screenshot('team');

  await bundle.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('button', { name: 'Revoke bob' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await page.locator('tr[data-teammate="bob"]').waitFor({ state: 'detached', timeout: 5000 });
  assert.equal(harbor.host.tokens.verify(token), null);
  const { body } = await admin<{ teammates: Array<{ name: string; revokedAt: number | null }> }>('GET', '/admin/teammates');
  assert.ok(body.teammates.find((m) => m.name === 'bob')?.revokedAt);
});

test('team: a sign-in waiting for the owner is listed with Approve / Deny; Approve lets it in (issue 18.2); the Team and Activity tabs show how each teammate connected (18.3)', async () => {
  // A host of its own with sign-in on ("both"); the teammate's browser step is driven over HTTP.
  const signInHost = await startTestHost({ docs: { folder: docsFolder }, auth: 'both' }, { adminSecret: SECRET });
  const own = await browser.newContext({ viewport: { width: 760, height: 900 }, colorScheme: 'light' });
  const errors: string[] = [];
  try {
    await ensureAppRoute(signInHost);
    const provider = new MemoryOAuthClient({ name: 'Claude Test' });
    const transport = new StreamableHTTPClientTransport(new URL(`${signInHost.url}/mcp/docs`), { authProvider: provider });
    await assert.rejects(new Client({ name: 'e2e', version: '1' }).connect(transport), UnauthorizedError);
    const signIn = await openAuthorize(provider.authorizationUrl!);
    assert.equal((await submitSignIn(signInHost.url, signIn, { name: 'erin' })).status, 303);

    const teamPage = await own.newPage();
    teamPage.on('pageerror', (error) => errors.push(error.message));
    await teamPage.goto(`${signInHost.url}/app/?tab=team#secret=${SECRET}`);
    const row = teamPage.locator(`li[data-approval="${signIn.requestId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /erin wants to connect from Claude Test/);
    assert.equal(await row.getByRole('button', { name: 'Deny erin' }).count(), 1);
    await teamPage.screenshot({ path: join(SCREENSHOTS, 'team-approval.png'), fullPage: true });
    await row.getByRole('button', { name: 'Approve erin' }).click();
    await row.waitFor({ state: 'detached', timeout: 5000 });

    // Through the admin API: no longer waiting, and answered (a second answer finds nothing to decide).
    const waiting = await adminFetch(signInHost.url, SECRET, 'GET', '/admin/approvals');
    assert.deepEqual(((await waiting.json()) as { approvals: unknown[] }).approvals, []);
    const again = await adminFetch(signInHost.url, SECRET, 'POST', `/admin/approvals/${signIn.requestId}/approve`);
    await again.body?.cancel();
    assert.equal(again.status, 404);
    // Approved, not denied: the teammate's waiting page now sends the client its code.
    const back = await pollWait(signInHost.url, signIn);
    await back.body?.cancel();
    assert.equal(back.status, 302);
    const code = new URL(back.headers.get('location')!).searchParams.get('code');
    assert.ok(code, 'the client gets a code');

    // Issue 18.3: erin calls with her sign-in, alice with her static token; the Team tab and Activity say how each came in.
    await transport.finishAuth(code);
    const erin = new Client({ name: 'e2e', version: '1' });
    await erin.connect(new StreamableHTTPClientTransport(new URL(`${signInHost.url}/mcp/docs`), { authProvider: provider }));
    await erin.callTool({ name: 'list_docs', arguments: {} });
    await erin.close();
    const alice = await connectClient(signInHost.url, 'docs', signInHost.token);
    await alice.callTool({ name: 'list_docs', arguments: {} });
    await alice.close();
    await teamPage.goto(`${signInHost.url}/app/?tab=team#secret=${SECRET}`);
    const erinWays = teamPage.locator('tr[data-teammate="erin"] td.connected li');
    await erinWays.first().waitFor({ timeout: 10_000 });
    assert.deepEqual(await erinWays.allInnerTexts(), ['signed in from Claude Test, last seen just now']);
    assert.deepEqual(await teamPage.locator('tr[data-teammate="alice"] td.connected li').allInnerTexts(), ['token `alice`, last seen just now']);
    await teamPage.screenshot({ path: join(SCREENSHOTS, 'team-connected.png'), fullPage: true });
    await teamPage.getByRole('tab', { name: 'Activity' }).click();
    await teamPage.locator('#panel-activity tbody tr').first().waitFor({ timeout: 10_000 });
    const viaCells = await teamPage.locator('#panel-activity tbody td.via').allInnerTexts();
    assert.ok(viaCells.includes('signed in from Claude Test') && viaCells.includes('token `alice`'), viaCells.join(' | '));

    // Revoked, erin has no way in left: the Team tab drops her (her calls stay in Activity) and counts her.
    const revoked = await adminFetch(signInHost.url, SECRET, 'DELETE', '/admin/teammates/erin');
    assert.equal(revoked.status, 200, await revoked.text());
    await teamPage.getByRole('tab', { name: 'Team' }).click();
    await teamPage.getByText('1 no longer signed in').waitFor({ timeout: 10_000 });
    assert.equal(await teamPage.locator('tr[data-teammate="erin"]').count(), 0, 'a revoked sign-in is not a way in');
    assert.equal(await teamPage.locator('tr[data-teammate="alice"]').count(), 1);
    assert.deepEqual(errors, []);
  } finally {
    await own.close();
    await signInHost.close();
  }
});

test('tabs follow the ARIA tabs pattern from the keyboard', async () => {
  await page.getByRole('tab', { name: 'Health' }).click();
  await page.getByRole('tab', { name: 'Health' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Servers' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id), 'tab-servers');
  await page.keyboard.press('End');
  assert.equal(await page.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected'), 'true');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Health' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.locator('#panel-servers').isHidden(), true);
  assert.equal(await page.getByRole('tab', { name: 'Servers' }).getAttribute('tabindex'), '-1');
});

test('servers, share, activity and logs sections render', async () => {
  await openTab('Servers');
  await page.locator('tr[data-server="fixture"]').waitFor();
  // Add a stdio server by its command line, as a user pastes it.
  await page.getByLabel('Name (used in the URL /<name>/mcp)').fill('notes');
  await page.getByLabel('Command').fill(`"${process.execPath}" "${FIXTURE_SERVER}"`);
  await page.getByLabel('Environment').fill('# the server reads these\nNOTES_TOKEN=e2e-secret-value\nNOTES_MODE = fast');
  await page.getByRole('button', { name: 'Add server' }).click();
  const notes = page.locator('tr[data-server="notes"]');
  await notes.waitFor({ timeout: 10_000 });
  const written = JSON.parse(readFileSync(join(harbor.home, 'config.json'), 'utf8')) as { mcpServers: { notes: { env: Record<string, string> } } };
  assert.deepEqual(written.mcpServers.notes.env, { NOTES_TOKEN: 'e2e-secret-value', NOTES_MODE: 'fast' });
  assert.ok(!(await page.locator('body').innerText()).includes('e2e-secret-value'), 'env values are not shown back');
  await waitFor(async () => (await notes.locator('.badge').innerText()) === 'online', 15_000, 'notes online');
  assert.ok(harbor.host.servers.has('notes'));
  // Restart from the UI: the supervisor counts it.
  await page.getByRole('button', { name: 'Restart notes' }).click();
  await waitFor(async () => (await notes.locator('td').nth(1).innerText()) === '1', 15_000, 'one restart shown');
  await screenshot('servers');


  await openTab('Logs');
  await page.getByLabel('Process').selectOption('fixture');
  await waitFor(async () => /\d/.test(await page.locator('#panel-logs pre.log').innerText()), 5000, 'log text');
  // Real times: each line's stamp is the browser's rendering of its own time, within this run.
  const { lines } = (await admin<{ lines: Array<{ at: number }> }>('GET', '/admin/logs?process=fixture&lines=2000')).body;
  assert.ok(lines.length > 0 && lines.every((l) => l.at > STARTED - 60_000 && l.at <= Date.now()), 'log times are real');
  const stamps = new Set(await page.evaluate((ats) => ats.map((at) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })), lines.map((l) => l.at)));
  const shown = (await page.locator('#panel-logs pre.log').innerText()).split('\n');
  for (const line of shown.slice(0, 20)) assert.ok([...stamps].some((stamp) => line.startsWith(stamp)), `"${line}" starts with a real time`);
  await screenshot('logs');
  assert.deepEqual(pageErrors, []);
});

test('at 380 px wide nothing overflows and every Remove button is in view', async () => {
  const narrow = await browser.newContext({ viewport: { width: 380, height: 800 }, colorScheme: 'light' });
  const small = await narrow.newPage();
  try {
    await small.goto(`${harbor.url}/app/#secret=${SECRET}`);
    await small.getByRole('tablist', { name: 'Harbor sections' }).waitFor({ timeout: 10_000 });
    const overflowing = () =>
      small.evaluate(() => {
        const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): Iterable<{ id: string; hidden: boolean; scrollWidth: number; clientWidth: number }> } }).document;
        const wide = [...doc.querySelectorAll('section, nav, header')].filter((el) => !el.hidden && el.scrollWidth > el.clientWidth).map((el) => `${el.id || 'nav/header'} ${el.scrollWidth} > ${el.clientWidth}`);
        if (doc.documentElement.scrollWidth > doc.documentElement.clientWidth) wide.push(`page ${doc.documentElement.scrollWidth} > ${doc.documentElement.clientWidth}`);
        return wide;
      });
    const tabs: Array<[string, string]> = [['Health', '#panel-health .tile'], ['Servers', 'tr[data-server="fixture"]'], ['Team', 'tr[data-teammate="alice"]'], ['Share', '#panel-share .state'], ['Activity', '#panel-activity tbody tr'], ['Logs', '#panel-logs pre.log']];
    for (const [name, ready] of tabs) {
      await small.getByRole('tab', { name }).click();
      await small.locator(ready).first().waitFor({ timeout: 10_000 });
      assert.deepEqual(await overflowing(), [], `${name} at 380 px`);
      if (name === 'Servers') {
        const removes = small.getByRole('button', { name: /^Remove / });
        assert.ok((await removes.count()) >= 2);
        for (const remove of await removes.all()) {
          await remove.scrollIntoViewIfNeeded();
          const box = (await remove.boundingBox())!;
          assert.ok(await remove.isVisible());
          assert.ok(box.x >= 0 && box.x + box.width <= 380, `Remove at ${box.x}+${box.width}`);
        }
        await small.screenshot({ path: join(SCREENSHOTS, 'servers-380.png'), fullPage: true });
      }
    }
    // The bundle of a new teammate, at that width too.
    await small.getByRole('tab', { name: 'Team' }).click();
    await small.getByLabel('Teammate name').fill('dana');
    await small.getByRole('button', { name: 'Add teammate' }).click();
    await small.getByRole('region', { name: 'Connect dana' }).waitFor();
    assert.deepEqual(await overflowing(), [], 'the Team bundle at 380 px');
  } finally {
    await narrow.close();
  }
});

test('over the IPC adapter: a window.harbor bridge like the preload\'s drives the same UI, with no admin requests from the page', async () => {
  // Stands in for preload + main: each bridge method crosses to Node (like ipcRenderer.invoke) and is
  // answered by HttpHostApi with the secret, which the page never sees.
  const api = new HttpHostApi({ baseUrl: harbor.url, secret: SECRET }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  // The popover's size, in the dark scheme.
  const popoverContext = await browser.newContext({ viewport: { width: 420, height: 600 }, colorScheme: 'dark' });
  const ipcPage = await popoverContext.newPage();
  const requests: string[] = [];
  ipcPage.on('request', (request) => requests.push(new URL(request.url()).pathname));
  await ipcPage.exposeFunction('__harborInvoke', (method: string, args: unknown[]) => api[method]!(...args));
  await ipcPage.addInitScript((methods: readonly string[]) => {
    const scope = globalThis as unknown as { harbor: unknown; __harborInvoke: (m: string, a: unknown[]) => Promise<unknown> };
    const invoke = scope.__harborInvoke;
    scope.harbor = Object.freeze(Object.fromEntries(methods.map((m) => [m, (...args: unknown[]) => invoke(m, args)])));
  }, HOST_API_METHODS);
  try {
    await ipcPage.goto(`${harbor.url}/app/?tab=team`);
    await ipcPage.locator('tr[data-teammate="alice"]').waitFor({ timeout: 10_000 });
    assert.equal(await ipcPage.getByRole('tab', { name: 'Team' }).getAttribute('aria-selected'), 'true');
    assert.deepEqual(requests.filter((path) => path.startsWith('/admin/')), []);
    await ipcPage.getByRole('tab', { name: 'Health' }).click();
    await ipcPage.locator('#panel-health .tile').first().waitFor({ timeout: 10_000 });
    await ipcPage.locator('#panel-health .chart canvas').first().waitFor({ timeout: 10_000 });
    await ipcPage.screenshot({ path: join(SCREENSHOTS, 'popover-dark.png') });
  } finally {
    await popoverContext.close();
  }
});

test('share: start a quick tunnel, copy its public URL, see the degraded-mode notice, stop', async () => {
  await openTab('Share');
  const state = page.locator('#panel-share .state');
  await waitFor(async () => (await state.getAttribute('data-state')) === 'off', 5000, 'share off');
  await page.getByRole('button', { name: 'Share with team' }).click();
  await waitFor(async () => (await state.getAttribute('data-state')) === 'online', 20_000, 'tunnel online');
  const url = await page.locator('#panel-share .url-row code').innerText();
  assert.match(url, /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
  await page.getByRole('button', { name: 'Copy public URL' }).click();
  await page.getByRole('status').filter({ hasText: 'Public URL copied' }).waitFor({ timeout: 5000 });
  const clipboard = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
  assert.equal(clipboard, url);
  assert.match(await page.locator('#panel-share .notice').innerText(), /SSE|stream/i);
  await screenshot('share');

  await page.getByRole('button', { name: 'Stop sharing' }).click();
  await waitFor(async () => (await state.getAttribute('data-state')) === 'off', 10_000, 'share off again');
  assert.equal(shareController.state.state, 'off');
});
