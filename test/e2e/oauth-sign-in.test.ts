/**
 * The sign-in pages in a real Chromium: the form posts with its cookie and CSRF token past Harbor's
 * Origin check, the waiting page refreshes itself until the owner approves (through the admin API),
 * then the browser lands on the client's loopback callback with the code. Screenshots go to
 * docs/screenshots/ with HARBOR_SCREENSHOTS=1, else to a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { GENEROUS_LIMITS, ROOT, startTestHost, waitFor } from '../helpers/harbor.ts';
import { adminFetch, authorizeUrl, pkcePair, registerClient, tokenRequest } from '../helpers/oauth-browser.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.HARBOR_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : mkdtempSync(join(tmpdir(), 'harbor-shots-'));

test('Chromium signs in, waits for the owner, and lands on the client callback with a working code', { timeout: 90_000 }, async () => {
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' }, { signIn: { pollSeconds: 1 } });
  // The MCP client's loopback callback.
  const codes: string[] = [];
  const callback = createServer((req, res) => {
    const url = new URL(req.url!, 'http://127.0.0.1');
    if (url.pathname === '/callback') codes.push(url.searchParams.get('code') ?? ''); // not the browser's /favicon.ico
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>Signed in. You can close this tab.</h1>');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  try {
    const client = await registerClient(h.url, redirectUri, 'Claude Code');
    const pkce = pkcePair();
    const page = await (await browser.newContext({ viewport: { width: 640, height: 560 }, colorScheme: 'light' })).newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(authorizeUrl(h.url, { clientId: client.client_id, challenge: pkce.challenge, redirectUri, resource: `${h.url}/mcp/docs` }).href);
    await page.getByRole('heading', { name: 'Sign in to Harbor' }).waitFor();
    await page.getByLabel('Your name').fill('alice');
    await page.screenshot({ path: join(SCREENSHOTS, 'sign-in.png') });
    await page.getByRole('button', { name: 'Ask to connect' }).click();
    await page.getByRole('heading', { name: 'Waiting for the host' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'sign-in-waiting.png') });

    const approval = await waitFor(async () => {
      const { approvals } = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ id: string; teammate: string; client: string }> };
      return approvals[0];
    });
    assert.deepEqual([approval.teammate, approval.client], ['alice', 'Claude Code']);
    assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${approval.id}/approve`)).status, 200);
    await page.waitForURL((url) => url.href.startsWith(redirectUri), { timeout: 20_000 });
    assert.equal(codes.length, 1);
    const exchanged = await tokenRequest(h.url, { grant_type: 'authorization_code', client_id: client.client_id, code: codes[0]!, code_verifier: pkce.verifier, redirect_uri: redirectUri });
    assert.equal(exchanged.status, 200);
    assert.deepEqual(problems, [], 'no CSP violation or failed load in the pages');
  } finally {
    await browser.close();
    callback.close();
    await h.close();
  }
});
