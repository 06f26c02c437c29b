import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { AuditLog } from './access/audit-log.ts';
import { SessionCap } from './access/session-cap.ts';
import { TokenBucket } from './access/token-bucket.ts';
import type { AdminDeps, AdminEvent } from './admin/admin-api.ts';
import { writeAdminSecret } from './admin/admin-secret.ts';
import { removeHostRuntime, writeHostRuntime } from './admin/runtime-file.ts';
import type { TokenStore } from './auth/token-store.ts';
import { watchRevocations } from './auth/revocation-watch.ts';
import { editConfig } from './config/edit-config.ts';
import { StdioServerSchema, type HarborConfig, type StdioServerConfig } from './config/config-schema.ts';
import { describeIssues, loadConfig } from './config/load-config.ts';
import { openBoundedCache, type BoundedCache } from './cache/bounded-cache.ts';
import { DocsIndex } from './docs/docs-index.ts';
import { ToolResultCache } from './gateway/tool-cache.ts';
import { createEmbeddingsCache, EmbeddingsClient } from './upstream-api/embeddings-client.ts';
import { createDocsServer, ensureDocsFolder } from './docs/docs-server.ts';
import { HostedServer, type HostedServerStatus } from './gateway/hosted-server.ts';
import { InProcessUpstream } from './gateway/in-process-upstream.ts';
import { StdioUpstream } from './gateway/stdio-upstream.ts';
import type { LivenessOptions } from './gateway/liveness-probe.ts';
import type { CallEvent } from './gateway/upstream-router.ts';
import { ensureHome, harborPaths, type HarborPaths } from './harbor-home.ts';
import { createHostServer, type HostServer } from './http/host-server.ts';
import { checkReplicaEnvs, copyEnv, hostedPoolOptions, poolRateLimits } from './hosted-pool-config.ts';
import { startModernEra } from './modern/modern-era.ts';
import type { ResponseMode, SessionLimits } from './http/streamable-session.ts';
import { createLogger, type Logger } from './logger.ts';
import { alertRules } from './metrics/alert-rules.ts';
import { HostObservability, type ShareStatus } from './metrics/host-observability.ts';
import { openStore } from './open-store.ts';
import { defaultReplicaUrl } from './store/postgres/pg-replica-directory.ts';
import { AdminInputError, handleAdmin } from './admin/admin-api.ts';
import type { ShareState } from './admin/host-api.ts';
import { DOCS_SERVER_NAME, isServerName, SERVER_NAME_RULE } from './gateway/server-name.ts';
import { parseLogFileLine } from './supervision/log-file-line.ts';
import { HARBOR_VERSION } from './version.ts';
import { activityService } from './services/activity.ts';
import { statusService } from './services/status.ts';
import { teammatesService } from './services/teammates.ts';
import type { SignInWithHarborOptions } from './oauth/sign-in-with-harbor.ts';
import type { SignInStoreOptions } from './oauth/sign-in-stores.ts';

/** Sharing is run by whoever supervises the host (the app or `harbor serve`); the host only relays. */
export interface ShareControl {
  get: () => ShareState;
  start: (request: Record<string, unknown>) => Promise<ShareState>;
  stop: () => Promise<ShareState>;
}

/** Defined with the HostApi contract; re-exported for the host's callers. */
export type { ShareState };

export interface HostOptions {
  home: string;
  /** Defaults to `<home>/config.json`. */
  configFile?: string;
  /** Overrides the config's bind address (container mode: HARBOR_HOST). */
  bindHost?: string;
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
  share?: ShareControl;
  /** This replica's name on audit rows and metrics; default HARBOR_REPLICA, else the host name. */
  replica?: string;
  /** "Move to a server…": the export, run by the supervisor (the host relays, as for sharing). */
  exportBundle?: AdminDeps['exportBundle'];
  /** Test hook: how often processes and connections are sampled for the metrics. */
  metricsSampleMs?: number;
  /**
   * Where the other replicas reach this one (HARBOR_REPLICA_URL in container mode), registered in the
   * shared PostgreSQL for forwarding 2026-07-28 continuations; default: the bind address and port.
   */
  replicaUrl?: string;
  /** Test hook: how long a 2026-07-28 call parked in input_required waits for its retry (default 5 min). */
  modernInputTtlMs?: number;
  /** Test hook: intervals of the frozen-server probe (liveness-probe.ts). */
  liveness?: Partial<LivenessOptions>;
  /** Test hooks of Sign in with Harbor: clock, lifetimes, rate limits. */
  signIn?: Partial<Pick<SignInWithHarborOptions, 'rateLimits' | 'pollSeconds'>> & SignInStoreOptions;
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
  audit: AuditLog;
  observability: HostObservability;
  adminSecret: string;
  /** The tunnel's state: public URL for bundles and Host checks, JSON answers in quick mode. */
  applyShareState(state: ShareState): void;
  close(): Promise<void>;
}

/** The last lines of a log file the supervisor above this process writes (bounded: 1 MiB read). */
function tailFile(file: string, lines: number): Array<{ at: number; stream: string; line: string }> {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    const length = Math.min(size, 1024 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    closeSync(fd);
    return buffer
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .slice(-lines)
      .map(parseLogFileLine);
  } catch {
    return [];
  }
}

const OFF: ShareState = { state: 'off', mode: null, publicUrl: null, lastError: null };

/** Builds and starts the host: config, stores, hosted servers, HTTP. The caller owns the process. */
export async function startHost(options: HostOptions): Promise<Host> {
  const paths = harborPaths(options.home);
  ensureHome(paths);
  const configFile = options.configFile ?? paths.config;
  const { config, file } = loadConfig(configFile, { docsFolder: paths.docs });
  checkReplicaEnvs(config.mcpServers); // a pool short of keys is a start-up error, before anything opens
  const log = options.log ?? createLogger();
  // SQLite in the home, or PostgreSQL shared by replicas (HARBOR_DATABASE_URL / store.url): open-store.ts.
  const store = await openStore({ paths, configUrl: config.store.url, log, ...(options.replica ? { replica: options.replica } : {}) });
  const { db, tokens } = store;
  const audit = new AuditLog(store.audit, { maxRows: config.audit.maxRows, maxAgeMs: config.audit.maxAgeDays * 86_400_000, logger: log });
  const events = new EventEmitter<{ event: [AdminEvent] }>();
  const publish = (event: AdminEvent) => events.emit('event', event);

  // Per launch: whoever can read this 0600 file is the owner (the app or the CLI).
  const adminSecret = options.adminSecret ?? writeAdminSecret(paths.home);
  let runtimeUrl = '';
  let share: ShareState = OFF;
  const servers = new Map<string, HostedServer>();
  let observability: HostObservability | null = null;

  // One disk layer for tool results and embeddings, each in its namespace.
  const cacheStore = store.cache;
  const cacheBytes = { maxMemoryBytes: config.cache.memoryMb * 1024 * 1024, maxDiskBytes: config.cache.diskMb * 1024 * 1024 };
  const needsToolCache = Object.values(config.mcpServers).some((s) => s.cache);
  const toolCache = needsToolCache ? await openBoundedCache<unknown>({ store: cacheStore, namespace: 'tools', ...cacheBytes, logger: log }) : null;
  let embeddings: EmbeddingsClient | null = null;
  let embeddingsCache: BoundedCache<number[]> | null = null;
  const embeddingsConfig = config.docs?.embeddings;
  if (embeddingsConfig) {
    embeddingsCache = await createEmbeddingsCache({ store: cacheStore, ...cacheBytes, logger: log });
    const envKeys = embeddingsConfig.apiKeysEnv ? (process.env[embeddingsConfig.apiKeysEnv] ?? '').split(',').map((k) => k.trim()).filter(Boolean) : [];
    embeddings = new EmbeddingsClient({
      baseUrl: embeddingsConfig.baseUrl,
      model: embeddingsConfig.model,
      apiKeys: [...embeddingsConfig.apiKeys, ...envKeys],
      cache: embeddingsCache,
      concurrency: embeddingsConfig.concurrency,
      maxQueued: embeddingsConfig.maxQueued,
      logger: log,
    });
  }

  const onCallDone = (server: string, event: CallEvent) => {
    const failed = event.error !== undefined || event.toolError;
    audit.record({
      teammate: event.session.teammate,
      server,
      method: event.method,
      ...(event.tool ? { tool: event.tool } : {}),
      durationMs: Math.round(event.durationMs),
      ok: !failed,
      ...(event.error ? { error: event.error } : event.toolError ? { error: event.toolErrorText ?? 'the tool reported an error with no text' } : {}),
    });
    if (config.metrics.enabled) {
      observability?.observe({ server, method: event.method, tool: event.tool, durationMs: event.durationMs, error: failed ? 'jsonrpc' : null });
    }
  };

  const stdioServer = (name: string, entry: StdioServerConfig) =>
    new HostedServer({
      name,
      mode: entry.mode,
      maxIsolated: entry.maxIsolated,
      requestTimeoutMs: entry.requestTimeoutSeconds * 1000,
      createUpstream: (copy) => {
        const upstream = new StdioUpstream({
          name,
          command: entry.command,
          args: entry.args,
          env: copyEnv(name, entry, copy),
          cwd: entry.cwd,
          memoryLimitBytes: entry.memoryLimitMb * 1024 * 1024,
          maxCrashes: entry.restart.maxCrashes,
          windowMs: entry.restart.windowSeconds * 1000,
          maxLineBytes: entry.maxLineBytes,
          logDir: paths.logs,
          log,
          ...(options.memorySampleMs ? { memorySampleMs: options.memorySampleMs } : {}),
        });
        observability?.watch(name, upstream.supervisor);
        return upstream;
      },
      log,
      onCallDone,
      liveness: options.liveness,
      // A server frozen past the probe's bound holds every caller until the per-call timeout (300 s):
      // a graceful restart fails those calls at once with the reason and brings the server back.
      restartUpstream: (upstream, reason) => {
        if (!(upstream instanceof StdioUpstream)) return;
        observability?.noteRestart(upstream.supervisor, 'unresponsive');
        void upstream.supervisor.restart(reason);
      },
      toolCache: entry.cache && toolCache
        ? new ToolResultCache(toolCache, name, { tools: entry.cache.tools, ttlMs: entry.cache.ttlSeconds * 1000 })
        : undefined,
      pool: hostedPoolOptions(name, entry, {
        onQueueWait: (ms) => observability?.metrics.observeQueueWait(name, ms),
        onRateLimited: (copy) => observability?.metrics.countRateLimited(name, copy),
      }),
    });

  let docs: DocsIndex | null = null;
  const startDocs = async (folder: string, rescanSeconds: number) => {
    ensureDocsFolder(folder);
    const index = new DocsIndex({ folder, databaseFile: paths.docsIndex, log });
    // A small folder is indexed before the first request; a big one finishes in the background.
    const firstScan = index.start(rescanSeconds * 1000);
    await Promise.race([firstScan, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    docs = index;
    servers.set(
      'docs',
      new HostedServer({
        name: 'docs',
        mode: 'shared',
        maxIsolated: 1,
        requestTimeoutMs: 60_000,
        createUpstream: () => new InProcessUpstream('docs', () => createDocsServer(index, HARBOR_VERSION, embeddings)),
        log,
        onCallDone,
      }),
    );
  };
  if (config.docs) await startDocs(config.docs.folder, config.docs.rescanSeconds);
  for (const [name, entry] of Object.entries(config.mcpServers)) {
    if (!entry.disabled) servers.set(name, stdioServer(name, entry));
  }

  const rate = new TokenBucket({ ratePerSecond: config.limits.requestsPerSecond, burst: config.limits.burst });
  const sessionCap = new SessionCap({ maxPerKey: config.limits.sessionsPerTeammate });
  let http: HostServer;

  // With no file yet, the built-in docs server was a default: keep it when the first edit creates the file.
  const initialConfig = file === null && config.docs ? { docs: { folder: config.docs.folder } } : {};
  const removeServer = async (name: string): Promise<boolean> => {
    const hosted = servers.get(name);
    if (!hosted) return false;
    servers.delete(name);
    for (const session of [...http.registry.all()]) if (session.server === hosted) await http.registry.end(session.id, 'server removed');
    await hosted.close();
    return true;
  };

  // Sign in with Harbor (auth "oauth" or "both"): Harbor is the authorization server of its own endpoints.
  // Loaded only when sign-in is on: it brings express, about 5 MB of the host's RSS that token-only hosts never use.
  const { rateLimits: signInRateLimits, pollSeconds: signInPollSeconds, ...signInStoreOptions } = options.signIn ?? {};
  const signIn = config.auth === 'tokens' ? null : (await import('./oauth/sign-in-with-harbor.ts')).signInWithHarbor({
    // The home's file and memory, or (replicas) the shared PostgreSQL: a sign-in started on one replica completes on any.
    stores: await store.signIn(signInStoreOptions),
    mode: config.auth,
    servers: () => servers.keys(),
    log,
    localPort: () => (runtimeUrl ? Number(new URL(runtimeUrl).port) : 0),
    publicUrl: () => share.publicUrl,
    onApprovalRequested: (approval) => publish({ type: 'teammate', action: 'wants-to-connect', ...approval }),
    ...(signInRateLimits ? { rateLimits: signInRateLimits } : {}),
    ...(signInPollSeconds !== undefined ? { pollSeconds: signInPollSeconds } : {}),
  });
  signIn?.prune().catch((error: Error) => log.warn({ err: error.message }, 'could not prune expired sign-in grants'));

  // Teammates, activity and status: server/services/, which the CLI also uses when no host answers.
  const rules = alertRules(config.alerts);
  const status = statusService({
    url: () => runtimeUrl, share: () => share, servers: () => servers.values(), sessions: () => http.registry, docs: () => docs,
    caches: () => [toolCache, embeddingsCache], cacheLimits: config.cache, embeddings: () => embeddings, observability: () => observability!, alertRules: rules,
  });
  const admin: AdminDeps = {
    secret: adminSecret,
    ...(signIn ? { signIn: signIn.admin } : {}),
    heartbeat: undefined,
    teammates: teammatesService({
      tokens, serverNames: () => servers.keys(), baseUrl: () => share.publicUrl ?? runtimeUrl,
      signIns: signIn?.admin, endSessions: (teammate, reason) => http.registry.endTeammate(teammate, reason),
    }),
    status: status.status,
    metrics: status.metrics,
    history: status.history,
    activity: activityService(audit).query,
    logs: (name, lines) => {
      if (name === 'host') return tailFile(paths.hostLog, lines);
      const hosted = servers.get(name);
      const upstream = hosted && hosted.mode !== 'isolated' ? hosted.sharedUpstream() : null;
      if (upstream instanceof StdioUpstream) return upstream.supervisor.log.tail(lines);
      return null;
    },
    ...(options.share
      ? {
          share: {
            get: () => options.share!.get(),
            start: (request) => options.share!.start(request),
            stop: () => options.share!.stop(),
          },
        }
      : {}),
    ...(options.exportBundle ? { exportBundle: options.exportBundle } : {}),
    manage: {
      add: async (body) => {
        const name = typeof body.name === 'string' ? body.name : '';
        if (!isServerName(name) || name === DOCS_SERVER_NAME) throw new AdminInputError(`name: ${SERVER_NAME_RULE}, and not "${DOCS_SERVER_NAME}"`);
        if (servers.has(name)) throw new AdminInputError(`a server named "${name}" exists already`);
        const { name: _drop, ...raw } = body;
        const parsed = StdioServerSchema.safeParse(raw);
        if (!parsed.success) throw new AdminInputError(describeIssues(parsed.error).join('; '));
        editConfig(configFile, (json) => {
          const mcpServers = (json.mcpServers ?? {}) as Record<string, unknown>;
          mcpServers[name] = raw;
          json.mcpServers = mcpServers;
        }, initialConfig);
        const hosted = stdioServer(name, parsed.data);
        servers.set(name, hosted);
        hosted.warmUp().catch((error: Error) => log.error({ server: name, err: error.message }, 'server failed to start'));
        publish({ type: 'server', action: 'added', name });
        return hosted.status();
      },
      remove: async (name) => {
        if (name === 'docs') throw new AdminInputError('the built-in docs server is turned off by removing "docs" from config.json');
        const removed = await removeServer(name);
        if (removed) {
          editConfig(configFile, (json) => {
            delete (json.mcpServers as Record<string, unknown> | undefined)?.[name];
          }, initialConfig);
          publish({ type: 'server', action: 'removed', name });
        }
        return removed;
      },
      restart: async (name) => {
        const hosted = servers.get(name);
        if (!hosted) throw new AdminInputError(`no server named "${name}"`);
        const upstream = hosted.mode === 'isolated' ? null : hosted.sharedUpstream();
        if (upstream instanceof StdioUpstream) await upstream.supervisor.restart('restarted by the user');
        return hosted.status() satisfies HostedServerStatus;
      },
      setDocsFolder: async (folder) => {
        editConfig(configFile, (json) => {
          json.docs = { ...(json.docs as object | undefined), folder };
        }, initialConfig);
        await removeServer('docs');
        const old = docs;
        docs = null;
        await old?.close();
        await startDocs(folder, config.docs?.rescanSeconds ?? 30);
        return { folder: docs!.folder };
      },
    },
    subscribe: (listener) => {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
  };

  const modern = startModernEra({
    ...(options.modernInputTtlMs !== undefined ? { inputTtlMs: options.modernInputTtlMs } : {}),
    // Replicas (a shared key): each requestState names this replica, and retries are forwarded to theirs.
    ...(store.stateSecret ? { replicas: { secret: store.stateSecret, replica: store.replica, directory: store.replicas, log } } : {}),
  });
  http = createHostServer({
    servers,
    modern: modern.options,
    tokens,
    log,
    bindHost: options.bindHost ?? config.host,
    maxBodyBytes: config.maxBodyBytes,
    sessionTtlMs: options.sessionTtlMs ?? config.sessionTtlSeconds * 1000,
    responseMode: options.responseMode ?? config.responseMode,
    allowedOrigins: config.allowedOrigins,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    access: { rate, sessions: sessionCap, describeRate: `${config.limits.requestsPerSecond} requests/s (burst ${config.limits.burst})` },
    health: () => ({ ...observability!.health(), version: HARBOR_VERSION }),
    metrics: { text: () => observability!.metrics.metricsText(), get contentType() { return observability!.metrics.contentType; } },
    onServerError: () => observability?.observe({ server: '', method: 'http', tool: undefined, durationMs: 0, error: 'http_5xx' }),
    admin: (req, res, path, url) => handleAdmin(req, res, path, url, admin),
    ...(signIn ? { oauth: signIn.gate } : {}),
  });
  admin.heartbeat = http.heartbeat;
  const stopRevocationWatch = watchRevocations({ tokens, endTeammate: (teammate, reason) => http.registry.endTeammate(teammate, reason), log });
  // Sign-ins revoked through another replica: the teammate's sessions here end too (as for static tokens).
  const stopSignInWatch = signIn?.onRevokedElsewhere((teammate) => {
    http.registry.endTeammate(teammate, 'token revoked').then(
      (closed) => log.info({ teammate, sessionsClosed: closed }, 'sign-ins revoked on another replica; sessions closed'),
      (error: Error) => log.warn({ teammate, err: error.message }, 'could not close the sessions of a revoked teammate'),
    );
  });
  observability = new HostObservability({
    servers,
    registry: http.registry,
    httpServer: http.server,
    db,
    history: store.history,
    rules,
    hostMemoryLimitBytes: config.hostMemoryLimitMb * 1024 * 1024,
    share: (): ShareStatus => ({ state: share.state, shared: share.state !== 'off', ...(share.lastError ? { detail: share.lastError } : {}) }),
    log,
    caches: () => [toolCache, embeddingsCache]
      .filter((c): c is BoundedCache<never> => c !== null)
      .map((c) => {
        const stats = c.stats();
        return { name: c.namespace, hits: stats.hits.memory + stats.hits.disk, misses: stats.misses };
      }),
    rateLimits: () => {
      const fraction = embeddings?.rateLimitRemainingFraction();
      const pools = poolRateLimits(servers.values());
      return fraction === null || fraction === undefined ? pools : [{ name: 'embeddings', remaining: fraction * 1000, limit: 1000 }, ...pools];
    },
    ...(options.metricsSampleMs ? { sampleMs: options.metricsSampleMs } : {}),
  });
  if (store.metricsLabel) observability.metrics.registry.setDefaultLabels({ replica: store.metricsLabel });
  observability.on('alert', (event) => publish({ type: 'alert', ...event }));
  observability.on('health', (health) => publish({ type: 'health', ...health }));

  const { url, port } = await http.listen(options.port ?? config.port);
  runtimeUrl = url;
  await store.replicas?.register(options.replicaUrl ?? defaultReplicaUrl(options.bindHost ?? config.host, port));
  if (config.metrics.enabled) observability.start();
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
    get docs() {
      return docs;
    },
    audit,
    observability,
    adminSecret,
    applyShareState(next: ShareState) {
      const previousHost = share.publicUrl ? new URL(share.publicUrl).hostname : null;
      if (previousHost) http.guard.disallowHost(previousHost);
      share = next;
      if (next.publicUrl) http.guard.allowHost(new URL(next.publicUrl).hostname);
      // Quick tunnels buffer SSE at the edge: answer POSTs with JSON while one carries the traffic.
      http.setResponseMode(next.mode === 'quick' && next.state !== 'off' ? 'json' : (options.responseMode ?? config.responseMode));
      publish({ type: 'share', ...next });
    },
    async close() {
      removeHostRuntime(paths.home, process.pid);
      stopRevocationWatch();
      stopSignInWatch?.();
      observability!.stop();
      modern.stop();
      await http.close();
      await Promise.all([...servers.values()].map((s) => s.close()));
      await docs?.close();
      await embeddings?.close();
      await toolCache?.close();
      await embeddingsCache?.close();
      await audit.close();
      await store.close();
    },
  };
}
