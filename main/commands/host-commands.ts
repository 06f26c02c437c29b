import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildConnectionBundle } from '../../server/access/connection-bundle.ts';
import { serverUrl } from '../../server/access/server-url.ts';
import type { ActivityEntry, HostedServerStatus, HostStatus, LogLine } from '../../server/admin/host-api.ts';
import { describeVia } from '../../server/auth/connected-via.ts';
import { loadConfig } from '../../server/config/load-config.ts';
import { alertRules } from '../../server/metrics/alert-rules.ts';
import { withOfflineActivity } from '../../server/services/offline-services.ts';
import { describeThreshold, type AlertThreshold, type AssembledStatus, type HostMetrics } from '../../server/services/status.ts';
import type { SupervisorInfo } from '../../server/supervision/supervisor.ts';
import { AdminClient } from '../core/admin-client.ts';
import { runningDashboardUrl } from './dashboard.ts';
import { date, homePaths, printList, printTable, UsageError } from './common.ts';

type ShareAnswer = NonNullable<HostStatus['share']>;

async function runningHost(): Promise<AdminClient> {
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  if (!admin) throw new UsageError(`Harbor is not running (HARBOR_HOME ${paths.home}). Start it first: harbor serve`);
  return admin;
}

export async function share(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      named: { type: 'string' },
      hostname: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const admin = await runningHost();
  const request = values.named !== undefined || values.hostname !== undefined
    ? { mode: 'named', ...(values.named ? { token: values.named } : {}), ...(values.hostname ? { hostname: values.hostname } : {}) }
    : { mode: 'quick' };
  process.stderr.write(`Starting a ${request.mode} tunnel (up to 30 s)...\n`);
  let state: ShareAnswer;
  try {
    state = await admin.request<ShareAnswer>('POST', '/admin/share', request, 60_000);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(state) + '\n');
    return;
  }
  if (!state.publicUrl) {
    // One line to act on; the places cloudflared was looked for only when asked.
    const searched = state.searched ?? [];
    const more = searched.length > 1 && !values.verbose ? ` (harbor share --verbose lists the ${searched.length} places looked at)` : '';
    process.stderr.write(`harbor: sharing is ${state.state}: ${state.lastError ?? 'no public URL yet'}${more}\n`);
    if (values.verbose) for (const place of searched) process.stderr.write(`  looked at ${place}\n`);
    process.exitCode = 1;
    return;
  }
  const status = await admin.assembledStatus();
  process.stdout.write(`Shared at ${state.publicUrl} (${state.mode} tunnel, ${state.state})\n`);
  if (state.degradedReason) process.stdout.write(`Note: ${state.degradedReason}.\n`);
  if (state.mode === 'quick') process.stdout.write('A quick tunnel gets a new URL each time it restarts; teammates\' tokens stay valid.\n');
  process.stdout.write('\nTeammates connect with their own token (harbor token add <name> prints a ready snippet):\n');
  for (const server of status.servers) {
    const bundle = buildConnectionBundle({ serverName: server.name, baseUrl: state.publicUrl, token: '<token>', teammate: 'teammate' });
    process.stdout.write(`  ${server.name}: ${bundle.url}\n    ${bundle.snippets.find((x) => x.client === 'claude-code')!.text}\n`);
  }
}

export async function unshare(): Promise<void> {
  const admin = await runningHost();
  await admin.request('DELETE', '/admin/share', undefined, 30_000);
  process.stdout.write('Sharing stopped; the public URL no longer reaches this host.\n');
}

/** `harbor restart <server> [--copy N]`: every copy of a pooled server, one after another, or the one named. */
export async function restart(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { copy: { type: 'string' } }, allowPositionals: true, strict: true });
  const name = onlyServerName(positionals, 'restart');
  const admin = await runningHost();
  const query = values.copy !== undefined ? `?copy=${encodeURIComponent(values.copy)}` : '';
  const server = (await admin.status()).servers.find((s) => s.name === name);
  const restarted = await admin.request<HostedServerStatus>('POST', `/admin/servers/${encodeURIComponent(name)}/restart${query}`, undefined, restartTimeoutMs(server, values.copy !== undefined));
  const pids = restarted.upstreams.map((u) => u.pid ?? '-').join(', ');
  process.stdout.write(`${values.copy !== undefined ? `Copy ${values.copy} of ${name}` : name} restarted (pid${restarted.upstreams.length > 1 ? 's' : ''} ${pids}).\n`);
}

/**
 * How long `harbor restart` waits: a pool restarts its copies one at a time, each drained (at most its
 * call timeout), stopped (a few seconds' grace) and initialised (at most a minute): that much per copy
 * restarted. An unknown server is the host's 404 to tell, at once.
 */
export function restartTimeoutMs(server: Pick<HostedServerStatus, 'requestTimeoutSeconds' | 'pool'> | undefined, oneCopy: boolean): number {
  const copies = oneCopy ? 1 : Math.max(1, server?.pool?.copies.length ?? 1);
  const perCopyMs = ((server?.requestTimeoutSeconds ?? 300) + 60 + 30) * 1000;
  return copies * perCopyMs;
}

/** The most lines the host answers (GET /admin/logs caps there). */
const MAX_LOG_LINES = 2000;

/**
 * `harbor logs <process> [--copy N] [--lines 200] [--json] [--server]`: a pooled server's lines say their
 * copy. `host` is Harbor's host; `--server` reads the name as a hosted server's (one called "host").
 */
export async function logs(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { copy: { type: 'string' }, lines: { type: 'string', default: '200' }, json: { type: 'boolean', default: false }, server: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const name = onlyServerName(positionals, 'logs');
  const count = /^\d+$/.test(values.lines) ? Number(values.lines) : NaN;
  if (!(count >= 1 && count <= MAX_LOG_LINES)) throw new UsageError(`--lines must be a whole number from 1 to ${MAX_LOG_LINES}, got "${values.lines}"`);
  const admin = await runningHost();
  const query = new URLSearchParams({ [values.server ? 'server' : 'process']: name, lines: values.lines });
  if (values.copy !== undefined) query.set('copy', values.copy);
  const { lines } = await admin.request<{ lines: LogLine[] }>('GET', `/admin/logs?${query}`);
  if (values.json) return void process.stdout.write(JSON.stringify(lines) + '\n');
  for (const l of lines) process.stdout.write(`${date(l.at)} ${l.stream === 'stderr' ? '!' : ' '} ${l.copy !== undefined ? `[copy ${l.copy}] ` : ''}${l.line}\n`);
}

function onlyServerName(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`harbor ${command} takes one process name (a server, or host). Run harbor ${command} --help.`);
  return positionals[0]!;
}

type ControllerFile = { host: SupervisorInfo | null };
type Served = { name: string; url: string };

export async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  if (!admin) {
    if (values.json) process.stdout.write(JSON.stringify({ running: false }) + '\n');
    else process.stdout.write(`Harbor is not running (HARBOR_HOME ${paths.home}). Start it with: harbor serve\n`);
    process.exitCode = 3;
    return;
  }
  const answer = await admin.assembledStatus();
  const controller = readControllerFile(paths.controller);
  const dashboard = await runningDashboardUrl(paths.home);
  const served = answer.servers.map((s) => ({ name: s.name, url: serverUrl(answer.host.url, s.name) }));
  if (values.json) {
    process.stdout.write(JSON.stringify({ running: true, ...answer, served, dashboardUrl: dashboard, hostProcess: controller?.host ?? null }, null, 2) + '\n');
    return;
  }
  printOverview(answer, served, dashboard);
  printTable(processRows(answer, controller?.host));
  const metrics = await admin.metrics();
  process.stdout.write('\n');
  printMetrics(metrics, answer, metrics.alertRules ?? rulesFromConfig(paths.config, paths.docs));
}

/** What the controller (serve or the tray app) last wrote of the host process; null for a host run without one. */
function readControllerFile(file: string): ControllerFile | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ControllerFile;
  } catch {
    return null; /* host run without a controller */
  }
}

/** Version, health and its reasons, what is served where, the dashboard, the tunnel. */
function printOverview(answer: AssembledStatus, served: readonly Served[], dashboard: string | null): void {
  process.stdout.write(`Harbor ${answer.version} at ${answer.host.url}; ${answer.sessions} session(s); health ${answer.health.state}\n`);
  for (const reason of answer.health.reasons) process.stdout.write(`  - ${reason}\n`);
  process.stdout.write(served.length ? 'Serving:\n' : 'Serving nothing: config.json has no servers and "docs": false.\n');
  const width = Math.max(0, ...served.map((s) => s.name.length));
  for (const s of served) process.stdout.write(`  ${s.name.padEnd(width)}  ${s.url}${s.name === 'docs' && answer.docs ? `  (built-in, over ${answer.docs.folder})` : ''}\n`);
  if (dashboard) process.stdout.write(`Dashboard (this machine only): ${dashboard}\n`);
  const tunnel = answer.share;
  process.stdout.write(
    `Tunnel: ${tunnel.state}${tunnel.mode ? ` (${tunnel.mode})` : ''}${tunnel.publicUrl ? ` at ${tunnel.publicUrl}, ${tunnel.connections ?? 0} session(s) through it` : ''}${tunnel.lastError ? `; last error: ${tunnel.lastError}` : ''}\n\n`,
  );
}

/** The process table: the host, then each server's upstreams (an in-host upstream has no process of its own). */
function processRows(answer: AssembledStatus, host: SupervisorInfo | null | undefined): string[][] {
  const rows = [['PROCESS', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'RSS', '% LIMIT', 'LAST EXIT']];
  rows.push([
    'host',
    host?.state ?? 'online',
    String(answer.host.pid),
    duration(answer.host.uptimeSeconds * 1000),
    String(host?.restarts ?? 0),
    mb(answer.host.rssBytes),
    percent(answer.host.rssBytes, host?.memoryLimitBytes ?? null),
    host?.lastExit?.reason ?? '-',
  ]);
  for (const server of answer.servers) {
    for (const upstream of server.upstreams) {
      const p = upstream.process;
      if (!p) {
        rows.push([server.name, upstream.up ? 'online' : 'stopped', 'in host', '-', '-', '-', '-', '-']);
        continue;
      }
      rows.push([
        server.name,
        p.state,
        p.pid ? String(p.pid) : '-',
        p.pid ? duration(p.uptimeMs) : '-',
        `${p.restarts}${p.memoryRestarts ? ` (${p.memoryRestarts} memory)` : ''}`,
        p.rssBytes ? mb(p.rssBytes) : '-',
        percent(p.rssBytes, p.memoryLimitBytes),
        p.state === 'errored' ? (p.lastError ?? '-') : (p.lastExit?.reason ?? '-'),
      ]);
    }
  }
  return rows;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const percent = (rss: number, limit: number | null) => (limit ? `${Math.round((rss / limit) * 100)} %` : '-');
const duration = (ms: number) => (ms >= 3_600_000 ? `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m` : ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s` : `${Math.floor(ms / 1000)}s`);

/** A host older than the status service sends no rules: those config.json sets, as it would have. */
function rulesFromConfig(file: string, docsFolder: string): AlertThreshold[] {
  return alertRules(loadConfig(file, { docsFolder }).config.alerts);
}

/** The six metrics of DESIGN.md section 7, each beside the rule in effect that alerts on it. */
function printMetrics(m: HostMetrics, status: AssembledStatus, rules: readonly AlertThreshold[]): void {
  const pct = (ratio: number | null) => (ratio === null ? '-' : `${(ratio * 100).toFixed(1)} %`);
  const when = (ruleId: string) => describeThreshold(rules, ruleId);
  const worst = Object.entries(m.latency).sort((a, b) => b[1].p95 - a[1].p95)[0];
  const rows = [['METRIC', 'VALUE', 'ALERT WHEN']];
  rows.push(['p95 latency (5 min)', worst ? `${Math.round(worst[1].p95)} ms (${worst[0]})` : '-', when('latency-p95-high')]);
  rows.push(['error rate (5 min)', pct(m.errorRate), when('error-rate-high')]);
  const memory = [...m.memory].sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0))[0];
  rows.push(['memory of limit', memory ? `${pct(memory.ratio)} (${memory.process})` : '-', when('memory-high')]);
  const caches = Object.entries(m.cacheHitRatio);
  rows.push(['cache hit ratio', caches.length ? caches.map(([name, r]) => `${name} ${pct(r)}`).join(', ') : 'no cache', when('cache-hit-low')]);
  rows.push(['connections', `${m.connections.sockets} sockets, ${m.connections.sessions} sessions, ${m.connections.streams} streams (${m.connections.trend})`, when('connections-leak')]);
  rows.push(['rate limit remaining', pct(m.rateLimitRemaining), when('ratelimit-low')]);
  printTable(rows);
  for (const alert of m.alerts) process.stdout.write(`${alert.state === 'firing' ? 'ALERT' : 'pending'}: ${alert.message}\n`);
  if (status.caches?.length) {
    process.stdout.write(`\nCache (limits ${status.cacheLimits.memoryMb} MB memory, ${status.cacheLimits.diskMb} MB disk):\n`);
    for (const c of status.caches) {
      process.stdout.write(`  ${c.namespace}: ${c.entries.memory} in memory (${(c.bytes.memory / 1048576).toFixed(1)} MB), ${c.entries.disk} on disk (${(c.bytes.disk / 1048576).toFixed(1)} MB)${c.degraded ? `, DEGRADED: ${c.degraded.reason}` : ''}\n`);
    }
  }
}

export async function activity(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { teammate: { type: 'string' }, server: { type: 'string' }, limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  // One query string for both ways: the running host's, or the same activity service over the store.
  const query = new URLSearchParams({ limit: values.limit });
  if (values.teammate) query.set('teammate', values.teammate);
  if (values.server) query.set('server', values.server);
  const entries: ActivityEntry[] = admin ? await admin.activity(query) : await withOfflineActivity({ paths }, (activity) => activity.query(query));
  printList(entries, {
    json: values.json,
    empty: 'No activity recorded yet.',
    header: ['WHEN', 'TEAMMATE', 'CONNECTED', 'SERVER', 'CALL', 'MS', 'RESULT'],
    row: (e) => [date(e.at), e.teammate, describeVia(e.via), e.server, e.tool ?? e.method, String(e.durationMs), e.ok ? 'ok' : `failed: ${e.error ?? ''}`.slice(0, 60)],
  });
}
