/// <reference lib="esnext.disposable" />
import type { Server } from 'node:http';
import type { AuditLog } from './access/audit-log.ts';
import type { AdminDeps } from './admin/admin-api.ts';
import { writeAdminSecret } from './admin/admin-secret.ts';
import type { ShareState } from './admin/host-api.ts';
import { removeHostRuntime, writeHostRuntime } from './admin/runtime-file.ts';
import type { TokenStore } from './auth/token-store.ts';
import type { HarborConfig } from './config/config-schema.ts';
import type { DocsIndex } from './docs/docs-index.ts';
import type { HostedServer } from './gateway/hosted-server.ts';
import type { LivenessOptions } from './gateway/liveness-probe.ts';
import type { SessionRegistry } from './http/session-registry.ts';
import type { ResponseMode, SessionLimits } from './http/streamable-session.ts';
import type { Logger } from './logger.ts';
import type { HostObservability } from './metrics/host-observability.ts';
import { adminEvents } from './host/admin-events.ts';
import { adminRoute } from './host/admin-part.ts';
import { recordCalls, recordRateRefusals } from './host/call-recorder.ts';
import { startDocs } from './host/docs-part.ts';
import { hostAddress } from './host/host-address.ts';
import { hostSettings } from './host/host-settings.ts';
import { stdioServers } from './host/hosted-servers.ts';
import { hostHttp } from './host/http-part.ts';
import { watchLiveConfig, type LiveConfigHooks } from './host/live-config-part.ts';
import { hostObservability } from './host/observability-part.ts';
import { own } from './host/resource-stack.ts';
import { watchRevokedTeammates } from './host/revocation-watch-part.ts';
import { serverAdmin } from './host/server-admin.ts';
import { shareStateApplier } from './host/share-state.ts';
import { openSignIn, type SignInHooks } from './host/sign-in-part.ts';
import { openHostStores } from './host/stores.ts';

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
  /**
   * HARBOR_PUBLIC_URL (container mode): the reverse proxy's address, an origin already validated
   * (access/public-url.ts). OAuth's metadata and every URL handed to teammates name it; its Host and
   * Origin are allowed.
   */
  publicUrl?: string;
  /** Test hook: how long a 2026-07-28 call parked in input_required waits for its retry (default 5 min). */
  modernInputTtlMs?: number;
  /** Test hook: intervals of the frozen-server probe (liveness-probe.ts). */
  liveness?: Partial<LivenessOptions>;
  /** Test hooks of Sign in with Harbor: clock, lifetimes, rate limits. */
  signIn?: SignInHooks;
  /** Test hooks of the config.json watch: quiet time and poll interval. */
  liveConfig?: LiveConfigHooks;
}

/**
 * The running host as its callers see it (host-main.ts, `harbor serve --container`, tests and benches):
 * where it listens, the owner's secret, what is hosted and open, the tunnel's state in, close.
 */
export interface Host {
  readonly url: string;
  readonly port: number;
  readonly adminSecret: string;
  /** The config in effect, as read at start. */
  readonly config: HarborConfig;
  /** Teammates issued in process (the test helper, benches); the admin API and the CLI go through server/services/. */
  readonly tokens: TokenStore;
  /** The hosted servers by name, for their status (the container's drain counts calls in flight). */
  readonly servers: ReadonlyMap<string, HostedServer>;
  /** The sessions open now, read-only. */
  readonly sessions: Pick<SessionRegistry, 'size' | 'get' | 'all'>;
  /** The listening Node server, for its timeouts and connection events. */
  readonly httpServer: Server;
  /** The docs index served now; null when docs are off. */
  readonly docs: DocsIndex | null;
  /** The audit log behind GET /admin/activity (flush() before reading a row just answered). */
  readonly audit: AuditLog;
  /** Metrics, history and health behind /metrics and /admin/metrics. */
  readonly observability: HostObservability;
  /** The tunnel's state: public URL for bundles and Host checks, JSON answers in quick mode. */
  applyShareState(state: ShareState): void;
  /** A host name accepted in Host checks beside the bind address (container: HARBOR_ALLOWED_HOSTS). */
  allowHost(hostname: string): void;
  /** Stops taking connections and closes the idle ones (a drain); close() follows. */
  stopAccepting(): void;
  /** Closes every part, the last opened first. */
  close(): Promise<void>;
}

/**
 * PostgreSQL's modules load only with a database URL (open-store.ts): this one too. At module level,
 * not inside startHost: tsc leaves the .ts of a dynamic import unrewritten inside a function that uses
 * `await using` (test/unit/emitted-imports.test.ts), and dist/ then fails to start.
 */
const loadReplicaDirectory = () => import('./store/postgres/pg-replica-directory.ts');

/**
 * Builds and starts the host from its parts (server/host/), each complete when built and put on one
 * stack: close() closes them last opened first, and so does a start failing half-way (a port taken).
 */
export async function startHost(options: HostOptions): Promise<Host> {
  const { paths, config, configFile, file, log } = hostSettings(options);
  await using opened = new AsyncDisposableStack();
  const address = hostAddress(options.publicUrl ?? null);
  const events = adminEvents();
  const stores = own(opened, await openHostStores({ paths, config, log, replica: options.replica }));
  // Per launch: whoever can read this 0600 file is the owner (the app or the CLI).
  const adminSecret = options.adminSecret ?? writeAdminSecret(paths.home);
  // The catalog of hosted servers: filled by the docs and stdio parts, read by observability and HTTP.
  const servers = new Map<string, HostedServer>();
  const { observability, rules } = hostObservability({ config, stores, servers, address, events, log, sampleMs: options.metricsSampleMs });
  const onCallDone = recordCalls(stores.audit, config.metrics.enabled ? observability : null);
  const docs = own(opened, await startDocs({ servers, config, paths, log, embeddings: stores.embeddings, onCallDone }));
  const stdio = own(opened, stdioServers({ servers, config, paths, log, toolCache: stores.toolCache, observability, onCallDone, memorySampleMs: options.memorySampleMs, liveness: options.liveness }));
  const signIn = await openSignIn({ config, store: stores.store, servers, address, events, log, hooks: options.signIn });
  // With no file yet, the built-in docs server was a default: kept when the first edit creates the file.
  const manage = serverAdmin({ configFile, initialConfig: file === null && config.docs ? { docs: { folder: config.docs.folder } } : {}, servers, stdio, docs, events });
  const relays = { ...(options.share ? { share: options.share } : {}), ...(options.exportBundle ? { exportBundle: options.exportBundle } : {}) };
  const admin = adminRoute({ secret: adminSecret, config, paths, address, stores, servers, docs, observability, rules, signIn, events, manage, relays, heartbeatMs: options.heartbeatMs });
  const onRateRefused = recordRateRefusals(stores.audit, config.metrics.enabled ? observability : null);
  const http = own(opened, hostHttp({ config, hooks: options, servers, store: stores.store, log, observability, admin, signIn, onRateRefused }));
  if (options.publicUrl) {
    http.server.guard.allowHost(new URL(options.publicUrl).host);
    http.server.guard.allowOrigin(options.publicUrl);
  }
  own(opened, watchRevokedTeammates({ tokens: stores.store.tokens, signIn, sessions: http.server.registry, log }));

  const { url, port } = await http.server.listen(options.port ?? config.port);
  address.url = url;
  if (stores.store.replicas) {
    const { defaultReplicaUrl } = await loadReplicaDirectory();
    await stores.store.replicas.register(options.replicaUrl ?? defaultReplicaUrl(options.bindHost ?? config.host, port));
  }
  opened.defer(() => observability.stop());
  if (config.metrics.enabled) observability.start();
  writeHostRuntime(paths.home, { url, port, pid: process.pid, startedAt: Date.now() });
  opened.defer(() => removeHostRuntime(paths.home, process.pid));
  stdio.warmUp();
  own(opened, watchLiveConfig({ configFile, paths, config, servers, stdio, docs, sessions: http.server.registry, events, observability, log, hooks: options.liveConfig }));
  log.info({ url, servers: [...servers.keys()] }, 'harbor host listening');

  const parts = opened.move(); // started: from here the parts close with close(), not at this scope's end
  const node = http.server.server;
  return {
    url, port, adminSecret, config, servers, observability,
    tokens: stores.store.tokens,
    sessions: http.server.registry,
    httpServer: node,
    get docs() {
      return docs.current();
    },
    audit: stores.audit,
    applyShareState: shareStateApplier({ address, http, events }),
    allowHost: (hostname) => http.server.guard.allowHost(hostname),
    stopAccepting: () => {
      node.close();
      node.closeIdleConnections();
    },
    close: () => parts.disposeAsync(),
  };
}
