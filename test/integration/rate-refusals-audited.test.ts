import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AuditLog } from '../../server/access/audit-log.ts';
import type { RateRefusal } from '../../server/http/access-guards.ts';
import { recordCalls, recordRateRefusals } from '../../server/host/call-recorder.ts';
import { startTestHost } from '../helpers/harbor.ts';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

test("requests refused by a teammate's rate (429) are audited (who, server, the error) and counted as rate_limited errors", async () => {
  // One token per 1000 s: nothing refills while the test runs.
  const h = await startTestHost({ docs: { folder: 'docs' }, limits: { requestsPerSecond: 0.001, burst: 2, sessionsPerTeammate: 10 } });
  try {
    const post = () =>
      fetch(`${h.url}/mcp/docs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INIT),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post();
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 429, 429, 429, 429]);
    assert.match(await h.host.observability.metrics.metricsText(), /harbor_errors_total\{server="docs",kind="rate_limited"\} 4\n/);
    // Counted, but out of the server's error rate (DESIGN.md: 5xx + JSON-RPC errors): one teammate's loop
    // must not fire the "error rate > 5 %" alert for everyone, nor dilute it as successes.
    const rate = h.host.observability.metrics.json().errors.byServer['docs'] ?? { requests: 0, errors: 0 };
    assert.equal(rate.errors, 0, 'no refusal in the error rate');
    assert.ok(rate.requests <= 2, `only the answered requests in its denominator (${rate.requests})`);
    await h.host.audit.flush();
    const refused = (await h.host.audit.query({ teammate: 'alice', limit: 50 })).filter((r) => !r.ok);
    // The window's first refusal at once; the other three are summed when the window closes (unit test below).
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.server, 'docs');
    assert.equal(refused[0]!.method, 'http');
    assert.deepEqual(refused[0]!.via, { kind: 'token', token: 'alice' });
    assert.match(refused[0]!.error!, /^Too many requests: rate limit for alice is 0\.001 requests\/s \(burst 2\); retry in \d+s$/);
  } finally {
    await h.close();
  }
});

/** An audit log in a temp folder that flushes only when asked, closed and removed after the test. */
function scratchAudit(t: TestContext): AuditLog {
  const dir = mkdtempSync(join(tmpdir(), 'harbor-refusals-'));
  const audit = new AuditLog(join(dir, 'harbor.db'), { flushIntervalMs: 3_600_000 });
  t.after(async () => {
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return audit;
}

test('a window of refusals is one row at once and one row with the count of the rest; each teammate and server its own window', async (t) => {
  const audit = scratchAudit(t);
  const timers: Array<() => void> = [];
  const observed: string[] = [];
  const record = recordRateRefusals(audit, { observe: (call) => observed.push(`${call.server} ${call.error}`) }, { windowMs: 10_000, schedule: (run) => (timers.push(run), () => {}) });
  const refusal = (teammate: string, server: string): RateRefusal => ({ teammate, via: { kind: 'token', token: teammate }, server, error: `Too many requests: rate limit for ${teammate}` });
  for (let i = 0; i < 5; i++) record(refusal('alice', 'github'));
  record(refusal('alice', 'notion'));
  record(refusal('bob', 'github'));
  assert.equal(observed.length, 7, 'every refusal counted');
  assert.deepEqual([...new Set(observed)].sort(), ['github rate_limited', 'notion rate_limited']);
  assert.equal(timers.length, 3, 'one window per teammate and server');
  for (const run of timers.splice(0)) run();
  await audit.flush();
  const rows = (await audit.query({ limit: 50 })).map((r) => `${r.teammate} ${r.server} ${r.error}`).sort();
  assert.deepEqual(rows, [
    'alice github 4 more requests refused in the next 10s: Too many requests: rate limit for alice',
    'alice github Too many requests: rate limit for alice',
    'alice notion Too many requests: rate limit for alice',
    'bob github Too many requests: rate limit for bob',
  ]);
  // A window closed: the next refusal opens a new one, written at once.
  record(refusal('alice', 'github'));
  await audit.flush();
  assert.equal((await audit.query({ teammate: 'alice', server: 'github', limit: 50 })).length, 3);
});

test("calls a full queue refused: each observed, audited one row per window plus one with the count; answered calls a row each", async (t) => {
  const audit = scratchAudit(t);
  const timers: Array<() => void> = [];
  const observed: Array<string | null | undefined> = [];
  const record = recordCalls(audit, { observe: (call) => observed.push(call.error) }, { windowMs: 10_000, schedule: (run) => (timers.push(run), () => {}) });
  const session = { id: 's', teammate: 'alice', via: { kind: 'token' as const, token: 'alice' }, capabilities: {}, deliver: () => {} };
  const event = (refused: boolean) => ({ session, method: 'tools/call', tool: 'work', durationMs: 1, error: refused ? 'server "api" has 1 calls waiting' : undefined, toolError: false, cached: false, ...(refused ? { refused: 'queue_full' as const } : {}) });
  for (let i = 0; i < 5; i++) record('api', event(true));
  record('api', event(false));
  assert.deepEqual(observed, ['jsonrpc', 'jsonrpc', 'jsonrpc', 'jsonrpc', 'jsonrpc', null], 'every refusal counted');
  assert.equal(timers.length, 1);
  for (const run of timers.splice(0)) run();
  await audit.flush();
  const rows = (await audit.query({ limit: 50 })).map((r) => `${r.ok} ${r.tool ?? '-'} ${r.error ?? ''}`).sort();
  assert.deepEqual(rows, [
    'false - 4 more calls refused in the next 10s: server "api" has 1 calls waiting',
    'false work server "api" has 1 calls waiting',
    'true work ',
  ]);
});
