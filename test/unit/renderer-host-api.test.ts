/**
 * The renderer's HostApi: its types agree with what the server sends (checked by the type checker), and
 * the HTTP adapter works against a real host's admin API, including "no such endpoint" as an empty state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Teammate as ServerTeammate } from '../../server/auth/token-store.ts';
import type { StoredAuditEntry } from '../../server/access/audit-store.ts';
import type { ConnectionBundle as ServerBundle } from '../../server/access/connection-bundle.ts';
import type { HostedServerStatus as ServerHostedStatus } from '../../server/gateway/hosted-server.ts';
import type { ShareState as ServerShareState } from '../../server/host.ts';
import type { AlertStatus as ServerAlertStatus } from '../../server/metrics/alert-evaluator.ts';
import type { Health as ServerHealth } from '../../server/metrics/health.ts';
import type { HistorySeries as ServerHistorySeries } from '../../server/metrics/history.ts';
import type { MetricsJson as ServerMetricsJson } from '../../server/metrics/registry.ts';
import type { LogLine as ServerLogLine } from '../../server/supervision/rotating-log.ts';
import { splitCommandLine } from '../../renderer/command-line.ts';
import { formatAgo, formatBytes, formatPercent } from '../../renderer/format.ts';
import {
  HostApiError,
  HttpHostApi,
  isMissingEndpoint,
  type ActivityEntry,
  type AlertStatus,
  type ConnectionBundle,
  type Health,
  type HistorySeries,
  type HostApi,
  type HostedServerStatus,
  type LogLine,
  type MetricsJson,
  type ShareState,
  type Teammate,
} from '../../renderer/host-api.ts';
import { HOST_API_METHODS } from '../../server/admin/host-api.ts';
import { startTestHost } from '../helpers/harbor.ts';

/** A compile-time check: the server's type must be assignable to the renderer's mirror of it. */
type Fits<Server, Renderer> = [Server] extends [Renderer] ? true : false;
const typesAgree: Array<true> = [
  true satisfies Fits<ServerTeammate, Teammate>,
  true satisfies Fits<ServerBundle, ConnectionBundle>,
  true satisfies Fits<ServerHostedStatus, HostedServerStatus>,
  true satisfies Fits<ServerShareState, ShareState>,
  true satisfies Fits<ServerAlertStatus, AlertStatus>,
  true satisfies Fits<ServerHealth, Health>,
  true satisfies Fits<ServerHistorySeries, HistorySeries>,
  true satisfies Fits<ServerMetricsJson, MetricsJson>,
  true satisfies Fits<StoredAuditEntry, ActivityEntry>,
  true satisfies Fits<ServerLogLine, LogLine>,
];

test('renderer types mirror the server types (checked by tsc)', () => {
  assert.ok(typesAgree.every(Boolean));
});

test('HOST_API_METHODS lists every HostApi method once', () => {
  assert.equal(new Set(HOST_API_METHODS).size, HOST_API_METHODS.length);
  const api: HostApi = new HttpHostApi({ baseUrl: 'http://127.0.0.1:1', secret: 'x' });
  const implemented = Object.getOwnPropertyNames(HttpHostApi.prototype).filter((n) => n !== 'constructor' && typeof (api as unknown as Record<string, unknown>)[n] === 'function');
  assert.deepEqual(implemented.sort(), [...HOST_API_METHODS].sort());
});

test('HttpHostApi against a real host: teammates, errors, missing routes', async () => {
  const secret = 'unit-secret-0123456789';
  const harbor = await startTestHost(null, { adminSecret: secret });
  try {
    const api = new HttpHostApi({ baseUrl: harbor.url, secret });
    const status = await api.status();
    assert.equal(status.host.url, harbor.url);
    assert.ok(status.servers.some((s) => s.name === 'docs'));

    const created = await api.addTeammate('carol');
    assert.match(created.token, /^hbr_/);
    const claude = created.bundles?.[0]?.snippets.find((s) => s.client === 'claude-code');
    assert.match(claude?.text ?? '', /^claude mcp add --transport http docs /);
    assert.ok((await api.teammates()).some((t) => t.name === 'carol' && t.revokedAt === null));
    assert.equal((await api.revokeTeammate('carol')).revoked, 'carol');

    await assert.rejects(api.revokeTeammate('carol'), (error: unknown) => error instanceof HostApiError && error.status === 404 && !isMissingEndpoint(error));
    await assert.rejects(new HttpHostApi({ baseUrl: harbor.url, secret: 'wrong' }).status(), (error: unknown) => error instanceof HostApiError && error.status === 401);
    assert.equal(await api.chooseFolder(), null);
  } finally {
    await harbor.close();
  }
});

test('isMissingEndpoint recognises both an unknown route and an absent part, also after IPC', () => {
  assert.ok(isMissingEndpoint(new HostApiError(404, 'no admin route GET /admin/nope')));
  assert.ok(isMissingEndpoint(new HostApiError(501, 'sharing is not available in this host')));
  // Electron rewraps a rejected invoke: only the message survives.
  assert.ok(isMissingEndpoint(new Error("Error invoking remote method 'harbor:share': HostApiError: sharing is not available in this host")));
  assert.ok(!isMissingEndpoint(new HostApiError(404, 'no active token for "x"')));
});

test('splitCommandLine: quotes, escapes, and an unclosed quote', () => {
  assert.deepEqual(splitCommandLine('npx -y @modelcontextprotocol/server-filesystem "/Users/me/Team Docs"'), [
    'npx',
    '-y',
    '@modelcontextprotocol/server-filesystem',
    '/Users/me/Team Docs',
  ]);
  assert.deepEqual(splitCommandLine(`python -m srv --name 'a "b"' x\\ y ""`), ['python', '-m', 'srv', '--name', 'a "b"', 'x y', '']);
  assert.deepEqual(splitCommandLine('  '), []);
  assert.throws(() => splitCommandLine('node "unterminated'), /unclosed/);
});

test('formatting for the UI', () => {
  assert.equal(formatBytes(512 * 1024 * 1024), '512 MB');
  assert.equal(formatBytes(null), '–');
  assert.equal(formatPercent(0.5), '50 %');
  assert.equal(formatPercent(0.053), '5.3 %');
  assert.equal(formatPercent(0.004), '0.4 %');
  assert.equal(formatAgo(null), 'never');
  assert.equal(formatAgo(1000, 1000 + 5 * 60_000), '5 min ago');
});
