import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { everythingConfig, ROOT, startTestHost } from '../helpers/harbor.ts';

const run = promisify(execFile);
// By path, not node_modules/.bin: the 2026 suite (devDependency conformance-2026) has the same bin name.
const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

// The official suite's transport and protocol scenarios. The content scenarios (tools-call-*, prompts-*)
// expect the suite's own test server's tools, which server-everything does not have.
const SCENARIOS = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'dns-rebinding-protection',
  'server-sse-polling',
  'server-sse-multiple-streams',
  'tools-list',
  'resources-list',
  'resources-subscribe',
  'resources-unsubscribe',
  'prompts-list',
];

test('the official MCP conformance suite passes its transport scenarios through Harbor', async () => {
  const h = await startTestHost(everythingConfig());
  try {
    // The suite sends no Authorization header: the URL-token form carries the teammate's token.
    const url = `${h.url}/t/${h.token}/mcp/everything`;
    for (const scenario of SCENARIOS) {
      const { stdout } = await run(process.execPath, [CONFORMANCE, 'server', '--url', url, '--scenario', scenario], { timeout: 60_000 }).catch(
        (error: { stdout: string; stderr: string }) => ({ stdout: error.stdout + error.stderr }),
      );
      const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(stdout);
      assert.ok(summary, `${scenario}: no summary in ${stdout.slice(-500)}`);
      assert.equal(summary[3], '0', `${scenario} failed:\n${stdout.slice(-2000)}`);
    }
  } finally {
    await h.close();
  }
});
