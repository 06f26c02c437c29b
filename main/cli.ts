#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildConnectionBundle, renderBundleText, type ConnectionBundle } from '../server/access/connection-bundle.ts';
import { SqliteTokenStore, TokenNameError } from '../server/auth/token-store.ts';
import { ConfigError, loadConfig } from '../server/config/load-config.ts';
import type { HostedServerStatus } from '../server/gateway/hosted-server.ts';
import { ensureHome, harborHome, harborPaths } from '../server/harbor-home.ts';
import { createLogger } from '../server/logger.ts';
import type { SupervisorInfo } from '../server/supervision/supervisor.ts';
import { AdminClient } from './core/admin-client.ts';
import { HostController, HostStartError } from './core/host-controller.ts';
import { onWakeFromSleep } from './core/sleep-detector.ts';
import { openDatabase } from '../server/store/sqlite-database.ts';
import { HARBOR_VERSION } from '../server/version.ts';

const HELP = `harbor ${HARBOR_VERSION}: host MCP servers on this machine and share them with your team.

Usage: harbor <command> [options]

Commands:
  serve [--config PATH] [--port N]   Run the host in the foreground. Prints its base URL.
                                     --port 0 picks a free port. Default port 7837 (or config "port").
  token add <name> [--json]          Create a teammate token and print it once, with ready-to-paste
                                     snippets for Claude Code, Cursor, VS Code, Claude Desktop, Windsurf,
                                     Codex and connectors (--json: {"name","token","bundles"}).
  token list [--json]                List teammates: created, last used, calls, revoked.
  token revoke <name>                Revoke a teammate's token; their next request gets 401 and
                                     (with the host running) their open sessions close at once.
  share [--named TOKEN --hostname H] Share the running host through a Cloudflare tunnel: a quick tunnel
                                     (no account; the URL changes on restart) or a named one (stable
                                     hostname; the token is kept in the OS keychain). Resumes on restart.
  unshare                            Stop sharing.
  activity [--teammate N] [--server S] [--limit 50] [--json]
                                     Who called which tool, when, how long, and whether it failed.
  status [--json]                    Each process of the running host: state, pid, uptime, restarts,
                                     memory and % of its limit, last exit reason; health and its reasons;
                                     the tunnel; the six metrics; the caches. Exit 3 if not running.
  help                               Show this help.

Environment:
  HARBOR_HOME        Folder for config.json, the database, logs and the default docs folder
                     (default: ${harborHome()}).
  HARBOR_LOG_LEVEL   pino level: trace, debug, info (default), warn, error.
  HARBOR_CLOUDFLARED Path of the cloudflared binary (else the app's bundled one, PATH, npm package).
  HARBOR_TUNNEL_TIMEOUT_SECONDS  How long a tunnel may take to get its URL (default 30).

Config (HARBOR_HOME/config.json): the "mcpServers" shape of Claude Desktop and Cursor, plus Harbor's
fields (mode, memoryLimitMb, cache, ...). With no config, Harbor serves the built-in "docs" server over
HARBOR_HOME/docs. See README.md.
`;

class UsageError extends Error {}

function homePaths() {
  const paths = harborPaths(harborHome());
  ensureHome(paths);
  return paths;
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' } }, strict: true });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  }
  const paths = homePaths();
  const log = createLogger({ name: 'harbor' });
  const tunnelTimeout = Number(process.env.HARBOR_TUNNEL_TIMEOUT_SECONDS);
  const controller = new HostController({
    home: paths.home,
    configFile: values.config,
    port,
    logger: log,
    ...(tunnelTimeout > 0 ? { tunnel: { readyTimeoutMs: tunnelTimeout * 1000 } } : {}),
  });
  // The child's own log lines (pino JSON on stderr) stay visible in the foreground, as one stream.
  controller.on('log', (event) => {
    if (event.stream !== 'stdout') process.stderr.write(event.line + '\n');
  });
  controller.on('state', (event) => {
    writeFileSync(join(paths.home, 'controller.json'), JSON.stringify({ pid: process.pid, host: controller.info() }) + '\n');
    if (event.to === 'errored') log.error({ reason: event.reason }, 'host is crash-looping; retrying slowly');
  });
  let announced = false;
  controller.on('ready', (ready) => {
    if (announced) {
      log.info({ url: ready.url }, 'host restarted');
      return;
    }
    announced = true;
    process.stdout.write(`Harbor is serving ${ready.servers.map((s) => `/mcp/${s}`).join(', ')} at ${ready.url}\n`);
  });
  await controller.start();
  controller.on('share', (state) => {
    if (state.publicUrl) log.info({ state: state.state, url: state.publicUrl }, 'sharing');
    else if (state.lastError) log.warn({ state: state.state, err: state.lastError }, 'sharing problem');
  });
  onWakeFromSleep((slept) => {
    log.info({ sleptSeconds: Math.round(slept / 1000) }, 'woke from sleep; checking the tunnel');
    void controller.share.checkAlive();
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    controller.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
}

const date = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');

async function token(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const paths = homePaths();
  const name = positionals.join(' ').trim();
  // A running host does the work itself, so a revocation closes open sessions at once.
  const admin = sub === 'add' || sub === 'revoke' ? await AdminClient.connect(paths.home) : null;
  switch (sub) {
    case 'add': {
      if (!name) throw new UsageError('usage: harbor token add <name> [--json]');
      let token: string;
      let bundles: ConnectionBundle[];
      if (admin) {
        const answer = await admin.request<{ token: string; bundles: ConnectionBundle[] }>('POST', '/admin/teammates', { name });
        token = answer.token;
        bundles = answer.bundles;
      } else {
        token = withStore(paths.database, (store) => store.issue(name).token);
        const { config } = loadConfig(paths.config, { docsFolder: paths.docs });
        const base = `http://127.0.0.1:${config.port}`;
        const names = [...(config.docs ? ['docs'] : []), ...Object.keys(config.mcpServers)];
        bundles = names.map((serverName) => buildConnectionBundle({ serverName, baseUrl: base, token, teammate: name }));
      }
      if (values.json) {
        process.stdout.write(JSON.stringify({ name, token, bundles }) + '\n');
        return;
      }
      process.stdout.write(`Token for ${name} (shown once; Harbor keeps only its hash):\n\n  ${token}\n\n`);
      for (const bundle of bundles) process.stdout.write(renderBundleText(bundle) + '\n');
      return;
    }
    case 'list': {
      const teammates = withStore(paths.database, (store) => store.list());
      if (values.json) {
        process.stdout.write(JSON.stringify(teammates, null, 2) + '\n');
        return;
      }
      if (teammates.length === 0) {
        process.stdout.write('No teammates yet. Add one with: harbor token add <name>\n');
        return;
      }
      const rows = [['NAME', 'CREATED', 'LAST USED', 'CALLS', 'STATUS']];
      for (const t of teammates) {
        rows.push([t.name, date(t.createdAt), date(t.lastUsedAt), String(t.calls), t.revokedAt ? `revoked ${date(t.revokedAt)}` : 'active']);
      }
      printTable(rows);
      return;
    }
    case 'revoke': {
      if (!name) throw new UsageError('usage: harbor token revoke <name>');
      if (admin) {
        try {
          const answer = await admin.request<{ sessionsClosed: number }>('DELETE', `/admin/teammates/${encodeURIComponent(name)}`);
          process.stdout.write(`Revoked ${name}; closed ${answer.sessionsClosed} open session(s).\n`);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        return;
      }
      if (!withStore(paths.database, (store) => store.revoke(name))) throw new UsageError(`no active token for "${name}"`);
      process.stdout.write(`Revoked ${name}. Their next request is refused.\n`);
      return;
    }
    default:
      throw new UsageError('usage: harbor token add|list|revoke ...');
  }
}

function withStore<T>(file: string, use: (store: SqliteTokenStore) => T): T {
  const db = openDatabase(file);
  try {
    return use(new SqliteTokenStore(db));
  } finally {
    db.close();
  }
}

interface ShareAnswer {
  state: string;
  mode: string | null;
  publicUrl: string | null;
  lastError: string | null;
  degradedReason?: string;
}

async function runningHost(): Promise<AdminClient> {
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  if (!admin) throw new UsageError(`Harbor is not running (HARBOR_HOME ${paths.home}). Start it first: harbor serve`);
  return admin;
}

async function share(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { named: { type: 'string' }, hostname: { type: 'string' }, json: { type: 'boolean', default: false } },
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
    process.stdout.write(`Sharing is ${state.state}: ${state.lastError ?? 'no public URL yet'}\n`);
    process.exitCode = 1;
    return;
  }
  const status = await admin.request<StatusAnswer>('GET', '/admin/status');
  process.stdout.write(`Shared at ${state.publicUrl} (${state.mode} tunnel, ${state.state})\n`);
  if (state.degradedReason) process.stdout.write(`Note: ${state.degradedReason}.\n`);
  if (state.mode === 'quick') process.stdout.write('A quick tunnel gets a new URL each time it restarts; teammates\' tokens stay valid.\n');
  process.stdout.write('\nTeammates connect with their own token (harbor token add <name> prints a ready snippet):\n');
  for (const server of status.servers) {
    const bundle = buildConnectionBundle({ serverName: server.name, baseUrl: state.publicUrl, token: '<token>', teammate: 'teammate' });
    process.stdout.write(`  ${server.name}: ${bundle.url}\n    ${bundle.snippets.find((x) => x.client === 'claude-code')!.text}\n`);
  }
}

async function unshare(): Promise<void> {
  const admin = await runningHost();
  await admin.request('DELETE', '/admin/share', undefined, 30_000);
  process.stdout.write('Sharing stopped; the public URL no longer reaches this host.\n');
}

interface StatusAnswer {
  version: string;
  host: { pid: number; uptimeSeconds: number; rssBytes: number; url: string; publicUrl: string | null };
  sessions: number;
  servers: HostedServerStatus[];
  docs: { folder: string; documents: number; indexing: boolean } | null;
  health: { state: string; reasons: string[] };
  share: ShareAnswer;
  caches?: Array<{ namespace: string; entries: { memory: number; disk: number }; bytes: { memory: number; disk: number }; degraded: { reason: string } | null }>;
  cacheLimits: { memoryMb: number; diskMb: number };
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  if (!admin) {
    if (values.json) process.stdout.write(JSON.stringify({ running: false }) + '\n');
    else process.stdout.write(`Harbor is not running (HARBOR_HOME ${paths.home}). Start it with: harbor serve\n`);
    process.exitCode = 3;
    return;
  }
  const answer = await admin.request<StatusAnswer>('GET', '/admin/status');
  let controller: { host: SupervisorInfo | null } | null = null;
  try {
    controller = JSON.parse(readFileSync(join(paths.home, 'controller.json'), 'utf8')) as { host: SupervisorInfo | null };
  } catch {
    /* host run without a controller */
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ running: true, ...answer, hostProcess: controller?.host ?? null }, null, 2) + '\n');
    return;
  }
  const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
  const percent = (rss: number, limit: number | null) => (limit ? `${Math.round((rss / limit) * 100)} %` : '-');
  const duration = (ms: number) => (ms >= 3_600_000 ? `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m` : ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s` : `${Math.floor(ms / 1000)}s`);
  process.stdout.write(`Harbor ${answer.version} at ${answer.host.url}; ${answer.sessions} session(s); health ${answer.health.state}\n`);
  for (const reason of answer.health.reasons) process.stdout.write(`  - ${reason}\n`);
  const tunnel = answer.share;
  process.stdout.write(
    `Tunnel: ${tunnel.state}${tunnel.mode ? ` (${tunnel.mode})` : ''}${tunnel.publicUrl ? ` at ${tunnel.publicUrl}` : ''}${tunnel.lastError ? `; last error: ${tunnel.lastError}` : ''}\n\n`,
  );
  const rows = [['PROCESS', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'RSS', '% LIMIT', 'LAST EXIT']];
  const host = controller?.host;
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
  printTable(rows);
  const metrics = await admin.request<MetricsAnswer>('GET', '/admin/metrics');
  process.stdout.write('\n');
  printMetrics(metrics, answer);
}

interface MetricsAnswer {
  latency: Record<string, { p50: number; p95: number; p99: number; count: number }>;
  errorRate: number | null;
  memory: Array<{ process: string; rssBytes: number; limitBytes: number | null; ratio: number | null }>;
  cacheHitRatio: Record<string, number | null>;
  connections: { sockets: number; sessions: number; streams: number; trend: string };
  rateLimitRemaining: number | null;
  alerts: Array<{ state: string; message: string }>;
}

function printMetrics(m: MetricsAnswer, status: StatusAnswer): void {
  const pct = (ratio: number | null) => (ratio === null ? '-' : `${(ratio * 100).toFixed(1)} %`);
  const worst = Object.entries(m.latency).sort((a, b) => b[1].p95 - a[1].p95)[0];
  const rows = [['METRIC', 'VALUE', 'ALERT WHEN']];
  rows.push(['p95 latency (5 min)', worst ? `${Math.round(worst[1].p95)} ms (${worst[0]})` : '-', '> 2 s']);
  rows.push(['error rate (5 min)', pct(m.errorRate), '> 5 % for 5 min']);
  const memory = [...m.memory].sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0))[0];
  rows.push(['memory of limit', memory ? `${pct(memory.ratio)} (${memory.process})` : '-', '> 80 % for 10 min']);
  const caches = Object.entries(m.cacheHitRatio);
  rows.push(['cache hit ratio', caches.length ? caches.map(([name, r]) => `${name} ${pct(r)}`).join(', ') : 'no cache', '< 70 %']);
  rows.push(['connections', `${m.connections.sockets} sockets, ${m.connections.sessions} sessions, ${m.connections.streams} streams (${m.connections.trend})`, 'rising for 30 min']);
  rows.push(['rate limit remaining', pct(m.rateLimitRemaining), '< 10 %']);
  printTable(rows);
  for (const alert of m.alerts) process.stdout.write(`${alert.state === 'firing' ? 'ALERT' : 'pending'}: ${alert.message}\n`);
  if (status.caches?.length) {
    process.stdout.write(`\nCache (limits ${status.cacheLimits.memoryMb} MB memory, ${status.cacheLimits.diskMb} MB disk):\n`);
    for (const c of status.caches) {
      process.stdout.write(`  ${c.namespace}: ${c.entries.memory} in memory (${(c.bytes.memory / 1048576).toFixed(1)} MB), ${c.entries.disk} on disk (${(c.bytes.disk / 1048576).toFixed(1)} MB)${c.degraded ? `, DEGRADED: ${c.degraded.reason}` : ''}\n`);
    }
  }
}

async function activity(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { teammate: { type: 'string' }, server: { type: 'string' }, limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const admin = await AdminClient.connect(homePaths().home);
  const query = new URLSearchParams({ limit: values.limit });
  if (values.teammate) query.set('teammate', values.teammate);
  if (values.server) query.set('server', values.server);
  let entries: Array<{ at: number; teammate: string; server: string; method: string; tool?: string; durationMs: number; ok: boolean; error?: string }>;
  if (admin) entries = (await admin.request<{ entries: typeof entries }>('GET', `/admin/activity?${query}`)).entries;
  else {
    // The host is not running: read the log straight from the database.
    const db = openDatabase(homePaths().database);
    try {
      const { SqliteAuditStore } = await import('../server/access/sqlite-audit-store.ts');
      const store = new SqliteAuditStore(db);
      entries = await store.query({ ...(values.teammate ? { teammate: values.teammate } : {}), ...(values.server ? { server: values.server } : {}), limit: Number(values.limit) });
    } finally {
      db.close();
    }
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
    return;
  }
  if (entries.length === 0) {
    process.stdout.write('No activity recorded yet.\n');
    return;
  }
  const rows = [['WHEN', 'TEAMMATE', 'SERVER', 'CALL', 'MS', 'RESULT']];
  for (const e of entries) rows.push([date(e.at), e.teammate, e.server, e.tool ?? e.method, String(e.durationMs), e.ok ? 'ok' : `failed: ${e.error ?? ''}`.slice(0, 60)]);
  printTable(rows);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'token':
      return token(rest);
    case 'status':
      return status(rest);
    case 'share':
      return share(rest);
    case 'unshare':
      return unshare();
    case 'activity':
      return activity(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case '--version':
    case '-v':
      process.stdout.write(`${HARBOR_VERSION}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}". Run harbor --help.`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`harbor: ${error.message}\nThe file was left unchanged.\n`);
    process.exit(2);
  }
  if (error instanceof HostStartError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const code = (error as { code?: unknown }).code;
  if (error instanceof UsageError || error instanceof TokenNameError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`harbor: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (code === 'EADDRINUSE') {
    process.stderr.write(`harbor: the port is in use (${(error as Error).message}); pass --port N or --port 0\n`);
    process.exit(1);
  }
  process.stderr.write(`harbor: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
