import { buildConnectionBundle } from './access/connection-bundle.ts';
import { writeAdminSecret } from './admin/admin-secret.ts';
import { removeHostRuntime, writeHostRuntime } from './admin/runtime-file.ts';
import { SqliteTokenStore, type TokenStore } from './auth/token-store.ts';
import type { HarborConfig } from './config/config-schema.ts';
import { loadConfig } from './config/load-config.ts';
import { DocsIndex } from './docs/docs-index.ts';
import { createDocsServer, ensureDocsFolder } from './docs/docs-server.ts';
import { HostedServer } from './gateway/hosted-server.ts';
import { InProcessUpstream } from './gateway/in-process-upstream.ts';
import { StdioUpstream } from './gateway/stdio-upstream.ts';
import { ensureHome, harborPaths, type HarborPaths } from './harbor-home.ts';
import { createHostServer, type HostServer } from './http/host-server.ts';
import type { ResponseMode, SessionLimits } from './http/streamable-session.ts';
import { createLogger, type Logger } from './logger.ts';
import { openDatabase, type SqliteDatabase } from './store/sqlite-database.ts';
import { HARBOR_VERSION } from './version.ts';

export interface HostOptions {
  home: string;
  /** Defaults to `<home>/config.json`. */
  configFile?: string;
  /** Overrides the config's port; 0 picks a free one. */
  port?: number;
  log?: Logger;
  /** Test hooks: shorter heartbeats, TTLs and stream switches. */
  heartbeatMs?: number;
  sessionTtlMs?: number;
  limits?: Partial<SessionLimits>;
  responseMode?: ResponseMode;
  memorySampleMs?: number;
  /** Admin API secret; default: a fresh one written to `<home>/admin.secret`. */
  adminSecret?: string;
}

export interface Host {
  url: string;
  port: number;
  config: HarborConfig;
  configFile: string | null;
  paths: HarborPaths;
  tokens: TokenStore;
  servers: Map<string, HostedServer>;
  http: HostServer;
  docs: DocsIndex | null;
  /** The tunnel's base URL while sharing: connection bundles name it instead of the loopback URL. */
  setPublicUrl(url: string | null): void;
  close(): Promise<void>;
}

/** Builds and starts the host: config, stores, hosted servers, HTTP. The caller owns the process. */
export async function startHost(options: HostOptions): Promise<Host> {
  const paths = harborPaths(options.home);
  ensureHome(paths);
  const { config, file } = loadConfig(options.configFile ?? paths.config, { docsFolder: paths.docs });
  const log = options.log ?? createLogger();
  const db: SqliteDatabase = openDatabase(paths.database);
  const tokens = new SqliteTokenStore(db);
  const flushTimer = setInterval(() => tokens.flush(), 5000);
  flushTimer.unref();

  // Per launch: whoever can read this 0600 file is the owner (the app or the CLI).
  const adminSecret = options.adminSecret ?? writeAdminSecret(paths.home);
  let runtimeUrl = '';
  let publicUrl: string | null = null;
  const servers = new Map<string, HostedServer>();
  let docs: DocsIndex | null = null;
  if (config.docs) {
    ensureDocsFolder(config.docs.folder);
    const index = new DocsIndex({ folder: config.docs.folder, databaseFile: `${paths.home}/docs-index.db`, log });
    docs = index;
    // A small folder is indexed before the first request; a big one finishes in the background.
    const firstScan = index.start(config.docs.rescanSeconds * 1000);
    await Promise.race([firstScan, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    servers.set(
      'docs',
      new HostedServer({
        name: 'docs',
        mode: 'shared',
        maxIsolated: 1,
        requestTimeoutMs: 60_000,
        createUpstream: () => new InProcessUpstream('docs', () => createDocsServer(index, HARBOR_VERSION)),
        log,
      }),
    );
  }
  for (const [name, entry] of Object.entries(config.mcpServers)) {
    if (entry.disabled) continue;
    servers.set(
      name,
      new HostedServer({
        name,
        mode: entry.mode,
        maxIsolated: entry.maxIsolated,
        requestTimeoutMs: entry.requestTimeoutSeconds * 1000,
        createUpstream: () =>
          new StdioUpstream({
            name,
            command: entry.command,
            args: entry.args,
            env: entry.env,
            cwd: entry.cwd,
            memoryLimitBytes: entry.memoryLimitMb * 1024 * 1024,
            maxCrashes: entry.restart.maxCrashes,
            windowMs: entry.restart.windowSeconds * 1000,
            logDir: paths.logs,
            log,
            ...(options.memorySampleMs ? { memorySampleMs: options.memorySampleMs } : {}),
          }),
        log,
      }),
    );
  }

  const http = createHostServer({
    servers,
    tokens,
    log,
    bindHost: config.host,
    maxBodyBytes: config.maxBodyBytes,
    sessionTtlMs: options.sessionTtlMs ?? config.sessionTtlSeconds * 1000,
    responseMode: options.responseMode ?? config.responseMode,
    allowedOrigins: config.allowedOrigins,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    health: () => ({ version: HARBOR_VERSION }),
    admin: {
      secret: adminSecret,
      status: () => ({
        version: HARBOR_VERSION,
        host: {
          pid: process.pid,
          uptimeSeconds: Math.round(process.uptime()),
          rssBytes: process.memoryUsage().rss,
          url: runtimeUrl,
          publicUrl,
        },
        docs: docs ? { folder: docs.folder, documents: docs.count, indexing: docs.indexing } : null,
      }),
      connectionBundles: (teammate: string, token: string) => {
        const scope = tokens.list().find((t) => t.name === teammate)?.scope ?? null;
        return [...servers.keys()]
          .filter((name) => !scope || scope.includes(name))
          .map((serverName) => buildConnectionBundle({ serverName, baseUrl: publicUrl ?? runtimeUrl, token, teammate }));
      },
    },
  });
  const { url, port } = await http.listen(options.port ?? config.port);
  runtimeUrl = url;
  writeHostRuntime(paths.home, { url, port, pid: process.pid, startedAt: Date.now() });
  // Spawn shared upstreams now: a teammate's first call should not wait for `npx` to start.
  for (const hosted of servers.values()) {
    hosted.warmUp().catch((error: Error) => log.error({ server: hosted.name, err: error.message }, 'server failed to start'));
  }
  log.info({ url, servers: [...servers.keys()] }, 'harbor host listening');

  return {
    url,
    port,
    config,
    configFile: file,
    paths,
    tokens,
    servers,
    http,
    docs,
    setPublicUrl(url: string | null) {
      publicUrl = url;
    },
    async close() {
      removeHostRuntime(paths.home, process.pid);
      clearInterval(flushTimer);
      await http.close();
      await Promise.all([...servers.values()].map((s) => s.close()));
      await docs?.close();
      tokens.flush();
      db.close();
    },
  };
}
