import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';
import { ROOT, startTestHost } from '../helpers/harbor.ts';

const run = promisify(execFile);
// By path, not node_modules/.bin: the 2026 suite (devDependency conformance-2026) has the same bin name.
const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
// Has every tool, resource and prompt the suite's scenarios name (server-everything has not).
const FIXTURE = join(ROOT, 'test/fixtures/conformance-server/server.ts');

// The whole 2025-11-25 suite in one run, as one teammate, at the DEFAULT per-teammate
// limits: it sends ~150 requests in about a second and opens a session per scenario without DELETE,
// so this is the check that the defaults are never felt by a person (issue 15).
test('the official MCP conformance suite passes through Harbor at the default limits', async () => {
  const h = await startTestHost({ mcpServers: { conformance: { command: process.execPath, args: [FIXTURE] } } });
  try {
    assert.deepEqual(h.host.config.limits, HarborConfigSchema.parse({}).limits, 'runs at the defaults');
    // The suite sends no Authorization header: the URL-token form carries the teammate's token.
    const url = `${h.url}/t/${h.token}/mcp/conformance`;
    const result = await run(process.execPath, [CONFORMANCE, 'server', '--url', url, '--spec-version', '2025-11-25'], { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout + error.stderr }),
    );
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(result.stdout);
    assert.ok(summary, `no summary in ${result.stdout.slice(-500)}`);
    const failed = result.stdout.split('\n').filter((line) => /^✗/.test(line));
    assert.equal(summary[2], '0', `failed:\n${failed.join('\n')}\n${result.stdout.slice(-2000)}`);
    assert.ok(Number(summary[1]) >= 39, `only ${summary[1]} checks passed`);
    // 0.1.16 runs 30 scenarios for 2025-11-25 (39 checks).
    assert.ok((result.stdout.match(/^✓ /gm) ?? []).length >= 30, 'every scenario of the suite ran');
    assert.equal(result.code, 0);
  } finally {
    await h.close();
  }
});
