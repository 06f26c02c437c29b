import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';
import { GENEROUS_LIMITS, ROOT, startTestHost } from '../helpers/harbor.ts';

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

// 0.2.0-alpha.12, aliased: it has the 2026-07-28 requirements and also runs the 2025-11-25 suite.
const CONFORMANCE_2026 = join(ROOT, 'node_modules/conformance-2026/dist/index.js');

/** Scenarios of `--requirements 2026-07-28` that pass whole through Harbor (0.2.0-alpha.12). */
const PASSING_2026 = [
  'caching', 'completion-complete', 'dns-rebinding-protection', 'http-custom-header-server-validation', 'http-header-validation',
  'input-required-result-basic-list-roots', 'input-required-result-basic-sampling', 'input-required-result-capability-check',
  'input-required-result-ignore-extra-params', 'input-required-result-missing-input-response', 'input-required-result-multi-round',
  'input-required-result-multiple-input-requests', 'input-required-result-non-tool-request', 'input-required-result-request-state',
  'input-required-result-result-type', 'input-required-result-tampered-state', 'input-required-result-unsupported-methods',
  'input-required-result-validate-input', 'json-schema-2020-12', 'prompts-get-embedded-resource', 'prompts-get-simple',
  'prompts-get-with-args', 'prompts-get-with-image', 'prompts-list', 'resources-list', 'resources-read-binary', 'resources-read-text',
  'resources-templates-read', 'sep-2164-resource-not-found', 'server-sse-multiple-streams', 'server-stateless', 'tasks-status-notifications',
  'tools-call-audio', 'tools-call-embedded-resource', 'tools-call-error', 'tools-call-image', 'tools-call-mixed-content',
  'tools-call-simple-text', 'tools-call-with-progress', 'tools-list',
];

/**
 * Every failing check of the 2026 run, with its reason; nothing else may fail.
 * - basic-elicitation's key check demands the key the origin server chose ("user_name"): a 2025
 *   server's elicitation/create carries no key, so Harbor names it ("elicitation-1"). The round works.
 * - tasks-* (the tasks extension, not scored): Harbor does not offer tasks on the modern path.
 */
const EXPECTED_FAILURES_2026: Record<string, RegExp> = {
  'input-required-result-basic-elicitation': /^sep-2322-elicitation-incomplete$/,
};

type Check = { id: string; status: string; errorMessage?: string };

/** The suite's -o directory: one folder per scenario (`server-<name>-<timestamp>`) with checks.json. */
function checksByScenario(dir: string): Map<string, Check[]> {
  const scenarios = new Map<string, Check[]>();
  for (const entry of readdirSync(dir)) {
    const name = entry.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    scenarios.set(name, JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8')) as Check[]);
  }
  return scenarios;
}

const failedCheck = (check: Check) => check.status === 'FAILURE' || check.status === 'ERROR';

// Both eras on one endpoint: the 2025-11-25 suite (all of it) and the 2026-07-28 requirements
// against the same Harbor, hosting the 2025-style stdio fixture on a shared upstream. The 2026 run
// abandons some input_required rounds on purpose (it never retries them): each such call stays
// parked and holds the upstream's interactive lane (request-attribution.ts) for its input TTL; at
// the 5-minute default the later input-required scenarios would queue past their 30 s timeout, so
// this host parks input for 2 s.
test('the 2026-07-28 requirements and the whole 2025-11-25 suite pass through one Harbor endpoint', async () => {
  const h = await startTestHost(
    { mcpServers: { conformance: { command: process.execPath, args: [FIXTURE], mode: 'shared' } }, limits: GENEROUS_LIMITS },
    { modernInputTtlMs: 2000 },
  );
  const out = mkdtempSync(join(tmpdir(), 'harbor-conformance-'));
  try {
    const url = `${h.url}/t/${h.token}/mcp/conformance`;
    const options = { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 };
    const legacy = await run(process.execPath, [CONFORMANCE_2026, 'server', '--url', url, '--spec-version', '2025-11-25', '--suite', 'all'], options).then(
      ({ stdout }) => stdout,
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(legacy);
    assert.ok(summary, `no summary in ${legacy.slice(-500)}`);
    assert.equal(summary[2], '0', legacy.slice(-2000));
    assert.ok(Number(summary[1]) >= 80, `only ${summary[1]} checks of the 2025 suite passed`);

    await run(process.execPath, [CONFORMANCE_2026, 'server', '--url', url, '--requirements', '2026-07-28', '-o', out], options).catch(() => {});
    const scenarios = checksByScenario(out);
    const unexpected = [...scenarios]
      .filter(([name]) => !name.startsWith('tasks-'))
      .flatMap(([name, checks]) => checks.filter(failedCheck).filter((c) => !EXPECTED_FAILURES_2026[name]?.test(c.id)).map((c) => `${name}: ${c.id}: ${c.errorMessage ?? ''}`));
    assert.deepEqual(unexpected, [], 'only the documented failures');
    const passing = [...scenarios].filter(([, checks]) => !checks.some(failedCheck)).map(([name]) => name).sort();
    assert.deepEqual(passing, [...PASSING_2026].sort());
  } finally {
    rmSync(out, { recursive: true, force: true });
    await h.close();
  }
});
