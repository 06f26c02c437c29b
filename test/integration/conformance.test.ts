import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';
import { everythingConfig, ROOT, startTestHost } from '../helpers/harbor.ts';

const run = promisify(execFile);
const CONFORMANCE = join(ROOT, 'node_modules/.bin/conformance');
const BASELINE = join(ROOT, 'test/fixtures/conformance-baseline.yml');

// The whole 2025-11-25 suite in one run, as one teammate, at the DEFAULT per-teammate limits: the
// suite sends ~150 requests in about a second and opens a session per scenario without DELETE, so
// this is the check that the defaults are never felt by a person (issue 15). The content scenarios
// that need the suite's own test server are listed in the baseline.
test('the official MCP conformance suite passes through Harbor at the default limits', async () => {
  const { limits: _generous, ...config } = everythingConfig();
  const h = await startTestHost(config);
  try {
    assert.deepEqual(h.host.config.limits, HarborConfigSchema.parse({}).limits, 'runs at the defaults');
    // The suite sends no Authorization header: the URL-token form carries the teammate's token.
    const url = `${h.url}/t/${h.token}/mcp/everything`;
    const result = await run(CONFORMANCE, ['server', '--url', url, '--spec-version', '2025-11-25', '--expected-failures', BASELINE], { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout + error.stderr }),
    );
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(result.stdout);
    assert.ok(summary, `no summary in ${result.stdout.slice(-500)}`);
    assert.ok(Number(summary[1]) >= 40, `only ${summary[1]} checks passed`);
    assert.doesNotMatch(result.stdout, /Too many (requests|sessions)|got 429/);
    const unexpected = result.stdout.split('\n').filter((line) => /^✗/.test(line));
    assert.equal(result.code, 0, `unexpected failures or a stale baseline:\n${unexpected.join('\n')}\n${result.stdout.slice(-1500)}`);
  } finally {
    await h.close();
  }
});
