import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_SECRET_HEADER } from '../../server/admin/host-api.ts';
import { alertRules } from '../../server/metrics/alert-rules.ts';
import { describeThreshold, type AssembledStatus, type HostMetrics } from '../../server/services/status.ts';
import { startTestHost } from '../helpers/harbor.ts';
import { harbor, harborResult } from '../helpers/harbor-cli.ts';

test('describeThreshold: each rule in effect in a few words, "off" for one config turned off', () => {
  const defaults = alertRules();
  assert.deepEqual(
    ['latency-p95-high', 'error-rate-high', 'memory-high', 'cache-hit-low', 'connections-leak', 'ratelimit-low'].map((id) => describeThreshold(defaults, id)),
    ['> 2 s for 1 min', '> 5 % for 5 min', '> 80 % for 10 min', '< 70 % for 10 min', 'rising for 30 min', '< 10 %'],
  );
  const overridden = alertRules({ 'latency-p95-high': { threshold: 1500, forMs: 0 }, 'connections-leak': { threshold: 5 }, 'memory-high': { enabled: false } });
  assert.equal(describeThreshold(overridden, 'latency-p95-high'), '> 1.5 s');
  assert.equal(describeThreshold(overridden, 'connections-leak'), 'rising by > 5 for 30 min');
  assert.equal(describeThreshold(overridden, 'memory-high'), 'off');
});

test('a host with alert overrides: the metrics answer carries the rules in effect, and harbor status prints them', async (t) => {
  const h = await startTestHost({ alerts: { 'latency-p95-high': { threshold: 500 }, 'ratelimit-low': { enabled: false } } });
  t.after(() => h.close());
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${h.url}${path}`, { ...init, headers: { [ADMIN_SECRET_HEADER]: h.host.adminSecret, 'Content-Type': 'application/json' } });

  const metrics = (await (await admin('/admin/metrics')).json()) as HostMetrics;
  assert.equal(metrics.alertRules.find((r) => r.id === 'latency-p95-high')?.threshold, 500);
  assert.equal(metrics.alertRules.find((r) => r.id === 'error-rate-high')?.threshold, 0.05);
  assert.equal(metrics.alertRules.some((r) => r.id === 'ratelimit-low'), false);
  assert.equal(metrics.health.state, 'green');

  const status = (await (await admin('/admin/status')).json()) as AssembledStatus;
  assert.equal(status.host.url, h.url);
  assert.equal(status.sessions, 0);
  assert.deepEqual(status.servers.map((s) => s.name), ['docs']);
  assert.equal(status.share.connections, 0);
  assert.deepEqual(status.cacheLimits, { memoryMb: h.host.config.cache.memoryMb, diskMb: h.host.config.cache.diskMb });

  const { stdout } = await harbor(h.home, 'status');
  assert.match(stdout, /^p95 latency \(5 min\) +- +> 500 ms for 1 min$/m);
  assert.match(stdout, /^error rate \(5 min\) +- +> 5 % for 5 min$/m);
  assert.match(stdout, /^rate limit remaining +- +off$/m);
});

test('the admin API refuses a scope naming no server (400, nothing stored); the CLI says it before asking', async (t) => {
  const h = await startTestHost(null);
  t.after(() => h.close());
  const res = await fetch(`${h.url}/admin/teammates`, {
    method: 'POST',
    headers: { [ADMIN_SECRET_HEADER]: h.host.adminSecret, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'ana', scope: ['docs', '../etc'] }),
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /^scope: "\.\.\/etc" is not a server name/);
  assert.deepEqual(h.host.tokens.list().map((m) => m.name), ['alice']);

  const cli = await harborResult({ ...process.env, HARBOR_HOME: h.home }, ['token', 'add', 'ana', '--scope', 'docs,../etc']);
  assert.equal(cli.code, 2, 'exit 2 with a bad scope');
  assert.match(cli.stderr, /--scope: "\.\.\/etc" is not a server name/);
  assert.deepEqual(h.host.tokens.list().map((m) => m.name), ['alice']);
});

test('GET /admin/status names the address teammates use: HARBOR_PUBLIC_URL (container mode) when set, the tunnel\'s otherwise', async (t) => {
  const behindProxy = await startTestHost(null, { publicUrl: 'https://mcp.example.com' });
  t.after(() => behindProxy.close());
  const plain = await startTestHost(null);
  t.after(() => plain.close());
  const status = async (h: typeof plain) =>
    (await (await fetch(`${h.url}/admin/status`, { headers: { [ADMIN_SECRET_HEADER]: h.host.adminSecret } })).json()) as AssembledStatus;

  const proxied = await status(behindProxy);
  assert.equal(proxied.host.publicUrl, 'https://mcp.example.com', 'the proxy\'s address, which invites and bundles name too');
  assert.equal(proxied.share.publicUrl, null, 'no tunnel: the share part still says so');
  assert.equal((await status(plain)).host.publicUrl, null, 'not shared: no public address');
});
