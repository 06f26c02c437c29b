import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { GENEROUS_LIMITS, ROOT, startTestHost, waitFor } from '../helpers/harbor.ts';
import { adminFetch } from '../helpers/oauth-browser.ts';

const MCP_REMOTE = join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const STANDIN = join(ROOT, 'test/fixtures/oauth-browser/browser-standin.ts');

/**
 * mcp-remote's own OAuth flow (discovery, dynamic registration, PKCE, its loopback callback) against
 * Harbor; its browser is a script on PATH and in $BROWSER (the `open` package runs xdg-open, which
 * runs $BROWSER), and the owner's approval comes from this test through the admin API.
 */
test('mcp-remote signs in with Harbor, waits for the owner, and calls a tool', { timeout: 120_000 }, async () => {
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: GENEROUS_LIMITS, auth: 'both' });
  const dir = mkdtempSync(join(tmpdir(), 'harbor-mcp-remote-'));
  const browser = join(dir, 'browser');
  writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" "${STANDIN}" "$@"\n`);
  chmodSync(browser, 0o755);
  // Also as xdg-open on PATH, for an `open` that uses the system's.
  writeFileSync(join(dir, 'xdg-open'), `#!/bin/sh\nexec "${browser}" "$@"\n`);
  chmodSync(join(dir, 'xdg-open'), 0o755);
  const logFile = join(dir, 'browser.log');
  writeFileSync(logFile, '');
  const env: Record<string, string> = {
    PATH: `${dir}:${process.env.PATH}`,
    HOME: dir,
    BROWSER: browser,
    MCP_REMOTE_CONFIG_DIR: join(dir, 'mcp-auth'),
    HARBOR_SIGNIN_NAME: 'frank',
    HARBOR_BROWSER_LOG: logFile,
  };
  const transport = new StdioClientTransport({ command: process.execPath, args: [MCP_REMOTE, `${h.url}/mcp/docs`], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'via-mcp-remote', version: '1.0.0' });
  try {
    const connected = client.connect(transport, { timeout: 90_000 });
    // The owner approves once frank's request shows up.
    const approval = await waitFor(async () => {
      const { approvals } = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/approvals')).json()) as { approvals: Array<{ id: string; teammate: string; client: string }> };
      return approvals.find((a) => a.teammate === 'frank');
    }, 60_000, `frank's sign-in request (mcp-remote stderr: ${stderr.slice(-2000)})`);
    assert.match(approval.client, /mcp-remote|MCP/i);
    assert.equal((await adminFetch(h.url, h.host.adminSecret, 'POST', `/admin/approvals/${approval.id}/approve`)).status, 200);
    await connected;
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'list_docs'));
    const result = await client.callTool({ name: 'list_docs', arguments: {} });
    assert.notEqual(result.isError, true);
    const steps = readFileSync(logFile, 'utf8');
    assert.match(steps, /^open http:\/\/127\.0\.0\.1:\d+\/authorize\?/m);
    assert.match(steps, /^callback http:\/\/(localhost|127\.0\.0\.1):\d+\/oauth\/callback$/m);
    // The calls ran as frank (the grant maps to the teammate).
    const { entries } = (await (await adminFetch(h.url, h.host.adminSecret, 'GET', '/admin/activity?teammate=frank')).json()) as { entries: unknown[] };
    assert.ok(entries.length >= 1);
  } finally {
    await client.close().catch(() => {});
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
