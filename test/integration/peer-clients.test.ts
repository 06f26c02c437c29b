import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ROOT, startTestHost, textOf, type TestHost } from '../helpers/harbor.ts';

const run = promisify(execFile);
const MCP_REMOTE = join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const MCPDO = join(ROOT, 'node_modules/.bin/mcpdo');

describe('real MCP clients reach a tool through Harbor with a bearer token', () => {
  let h: TestHost;
  let scratch: string;
  before(async () => {
    h = await startTestHost(null);
    scratch = mkdtempSync(join(tmpdir(), 'harbor-peers-'));
  });
  after(async () => {
    await h.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  // Claude Desktop's way in: the mcp-remote stdio bridge, header passed through an env var with no
  // space after the colon (Windows splits arguments on spaces).
  for (const form of ['header', 'url-token'] as const) {
    test(`mcp-remote (${form})`, async () => {
      const url = form === 'header' ? `${h.url}/mcp/docs` : `${h.url}/t/${h.token}/mcp/docs`;
      const args = form === 'header' ? [MCP_REMOTE, url, '--header', 'Authorization:${AUTH_HEADER}'] : [MCP_REMOTE, url];
      const transport = new StdioClientTransport({
        command: process.execPath,
        args,
        env: { ...process.env, AUTH_HEADER: `Bearer ${h.token}`, MCP_REMOTE_CONFIG_DIR: join(scratch, `mcp-remote-${form}`) } as Record<string, string>,
        stderr: 'pipe',
      });
      const client = new Client({ name: 'via-mcp-remote', version: '1' });
      try {
        await client.connect(transport);
        const result = await client.callTool({ name: 'search_docs', arguments: { query: 'welcome' } });
        assert.match(textOf(result), /welcome\.md/);
      } finally {
        await client.close();
      }
    });
  }

  test('MCP Inspector v2 CLI (mcpdo)', async () => {
    const env = { ...process.env, HOME: scratch, MCP_INSPECTOR_SECRET_STORE: 'file', NO_COLOR: '1' };
    const mcpdo = (...args: string[]) => run(MCPDO, ['--format', 'json', ...args], { env, timeout: 60_000 });
    try {
      await mcpdo('connect', '--connection', 'harbor', '--transport', 'http', '--server-url', `${h.url}/mcp/docs`, '--header', `Authorization: Bearer ${h.token}`);
      const { stdout } = await mcpdo('--connection', 'harbor', 'tools/call', 'search_docs', 'query:=welcome');
      const result = JSON.parse(stdout) as { content: Array<{ text: string }> };
      assert.match(result.content[0]!.text, /welcome\.md/);
      await mcpdo('--connection', 'harbor', 'disconnect');
    } finally {
      // mcpdo keeps a daemon per HOME; stop it so the test leaves nothing running.
      try {
        const pid = Number(readFileSync(join(scratch, '.mcp-inspector', 'mcpdod.lock'), 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGTERM');
      } catch {
        /* no daemon */
      }
    }
  });
});
