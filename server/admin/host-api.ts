/**
 * The HostApi contract: what the admin API answers (docs/admin-api.md), typed once for every side —
 * the admin API and the CLI (main/core/admin-client.ts), the Electron shell (IPC bridge, health
 * watcher) and the renderer (renderer/host-api.ts, whose HTTP and IPC adapters implement it).
 *
 * The wire types are the server's own types wherever the server has one (imported as types, so they
 * cannot drift apart); the rest are defined here. The renderer imports this module with `import type`
 * only: it is served as stripped TypeScript from renderer/ (server/http/app-assets.ts), so a type-only
 * import is erased and nothing from server/ is fetched at run time. The constants below are for Node
 * callers; the renderer states the ones it needs itself, checked against these with `typeof`.
 */
import type { StoredAuditEntry, TeammateConnection } from '../access/audit-store.ts';
import type { ConnectionBundle, Snippet } from '../access/connection-bundle.ts';
import type { ConnectedVia } from '../auth/connected-via.ts';
import type { Teammate } from '../auth/token-store.ts';
import type { BoundedCacheStats } from '../cache/bounded-cache.ts';
import type { HostedServerStatus, ServerMode } from '../gateway/hosted-server.ts';
import type { AlertStatus } from '../metrics/alert-evaluator.ts';
import type { Health, HealthState } from '../metrics/health.ts';
import type { HistorySeries } from '../metrics/history.ts';
import type { MetricsJson } from '../metrics/registry.ts';
import type { LatencySummary } from '../metrics/rolling-latency.ts';
import type { LogLine } from '../supervision/rotating-log.ts';
import type { SupervisorInfo } from '../supervision/supervisor.ts';
import type { EmbeddingsClientStats } from '../upstream-api/embeddings-client.ts';

export type {
  AlertStatus,
  ConnectionBundle,
  Health,
  HealthState,
  HistorySeries,
  HostedServerStatus,
  LatencySummary,
  LogLine,
  MetricsJson,
  ServerMode,
  Snippet,
  Teammate,
  TeammateConnection,
  ConnectedVia,
};

/** One audit-log row, as `GET /admin/activity` lists them; `via` says how the caller authenticated. */
export type ActivityEntry = StoredAuditEntry;


export interface ActivityFilter {
  teammate?: string;
  server?: string;
  limit?: number;
  /** Only entries strictly older than this (epoch ms). */
  before?: number;
}

/** A supervised process, as status and the process list show it. */
export type ProcessInfo = SupervisorInfo;

export type ShareStateName = ShareState['state'];

/** The tunnel as the host reports it (host.ts applies it; the controller in main/core drives it). */
export interface ShareState {
  state: 'off' | 'starting' | 'online' | 'degraded' | 'down';
  mode: 'quick' | 'named' | null;
  publicUrl: string | null;
  lastError: string | null;
  degradedReason?: string;
  /** cloudflared not found: every place looked at, once (harbor share --verbose lists them). */
  searched?: string[];
}

export type ShareRequest = { mode: 'quick' } | { mode: 'named'; token?: string; hostname: string };

export interface HostStatus {
  version: string;
  host: { pid: number; uptimeSeconds: number; rssBytes: number; url: string; publicUrl: string | null };
  docs: { folder: string; documents: number; indexing: boolean } | null;
  sessions: number;
  servers: HostedServerStatus[];
  /** Absent from hosts older than the metrics work. */
  health?: Health;
  /** With the sessions open through the tunnel. */
  share?: ShareState & { connections?: number };
  caches?: BoundedCacheStats[];
  cacheLimits?: { memoryMb: number; diskMb: number };
  embeddings?: EmbeddingsClientStats | null;
}

export interface MetricsResponse extends MetricsJson {
  alerts: AlertStatus[];
}

export interface NewTeammate {
  teammate: Teammate;
  /** Shown once, never stored by the UI. */
  token: string;
  bundles: ConnectionBundle[] | null;
  /** One snippet per client over every server in `bundles` (mergedSnippets); absent from older hosts. */
  merged?: Snippet[];
}

export interface NewServer {
  name: string;
  command: string;
  args?: string[];
  env?: Record<string, string>;
  mode?: ServerMode;
}

/** "Move to a server…" (POST /admin/export): `harbor export`, run by the host's controller. */
export interface ExportRequest {
  /** An absolute folder on the host's machine; created if missing, and it must be empty unless `force`. */
  dir: string;
  /** Copy the teammates and their hashed tokens (tokens.json); never clear tokens. */
  withTokens?: boolean;
  /** Replace a folder that is not empty. */
  force?: boolean;
}

/** One way to deploy the bundle (a section of its README.md: compose, ECS Fargate, Kubernetes). */
export interface DeployPath {
  title: string;
  /** The section's text as written in the README (Markdown). */
  text: string;
}

export interface ExportResult {
  dir: string;
  /** Paths written, relative to `dir` (`harbor/` is Harbor's own package). */
  files: string[];
  /** Environment variables the bundle's config.json references, and where each value came from. */
  variables: Array<{ name: string; from: string }>;
  /** Entries that will not run in a container as they are. */
  warnings: string[];
  /** Teammates copied to tokens.json (0 without `withTokens`). */
  teammates: number;
  /** The bundle's README.md (absolute path) and its deploy sections, in order. */
  readme: string;
  nextSteps: DeployPath[];
}

/**
 * A sign-in waiting for the owner (`GET /admin/approvals`). server/oauth/ names it PendingApproval and
 * imports it from here: admin/ never imports oauth/.
 */
export interface SignInApproval {
  id: string;
  teammate: string;
  /** The client's own name (from its registration or metadata document). */
  client: string;
  /** The name matched an open invite. */
  invited: boolean;
  requestedAt: number;
  expiresAt: number;
}

/**
 * A live sign-in (`GET /admin/invites` signIns: a family with a live refresh token), for the Team tab to
 * tell a teammate who can still connect from one the audit log only remembers. server/oauth/ names it
 * GrantSummary and imports it from here, as it does SignInApproval.
 */
export interface LiveSignIn {
  teammate: string;
  clientId: string;
  clientName: string | null;
  resource: string;
  createdAt: number;
  lastRefreshedAt: number | null;
}

export interface HostApi {
  status(): Promise<HostStatus>;
  metrics(): Promise<MetricsResponse>;
  metricsHistory(metric: string, since: number): Promise<HistorySeries[]>;
  teammates(): Promise<Teammate[]>;
  addTeammate(name: string): Promise<NewTeammate>;
  revokeTeammate(name: string): Promise<{ revoked: string; sessionsClosed: number }>;
  /** Sign-ins waiting for the owner; fails with 501 "… is not available in this host" when auth is "tokens". */
  approvals(): Promise<SignInApproval[]>;
  /** 404 if no request `id` is waiting (answered, expired or unknown). */
  approve(id: string): Promise<SignInDecision>;
  deny(id: string): Promise<SignInDecision>;
  /** Live sign-ins; fails with 501 like approvals() when auth is "tokens". */
  signIns(): Promise<LiveSignIn[]>;
  /** Newest first; `before` (epoch ms) pages back to older entries. */
  activity(filter?: ActivityFilter): Promise<ActivityEntry[]>;
  /** Per teammate and way in (static token, or sign-in from a client), the last call and how many the log holds. */
  connections(): Promise<TeammateConnection[]>;
  logs(process: string, lines?: number): Promise<LogLine[]>;
  share(): Promise<ShareState>;
  startShare(request: ShareRequest): Promise<ShareState>;
  stopShare(): Promise<ShareState>;
  addServer(server: NewServer): Promise<HostedServerStatus>;
  removeServer(name: string): Promise<{ removed: string | boolean }>;
  restartServer(name: string): Promise<HostedServerStatus>;
  setDocsFolder(folder: string): Promise<{ folder: string }>;
  /** Writes the container bundle (`harbor export`) into a folder; slow (copies Harbor: seconds). */
  exportBundle(request: ExportRequest): Promise<ExportResult>;
  /** A native folder picker (Electron); null in a browser, where the UI asks for a path instead. */
  chooseFolder(purpose?: FolderPurpose): Promise<string | null>;
}

/** What a picked folder is for: the picker's title says it. */
export type FolderPurpose = 'docs' | 'export';

export interface SignInDecision {
  approval: SignInApproval;
  decision: 'approve' | 'deny';
}

export type HostApiMethod = keyof HostApi;

/** Every method, exactly once: the record type makes a missing or an extra name a type error. */
const METHODS: Record<HostApiMethod, true> = {
  status: true,
  metrics: true,
  metricsHistory: true,
  teammates: true,
  addTeammate: true,
  revokeTeammate: true,
  approvals: true,
  approve: true,
  deny: true,
  signIns: true,
  activity: true,
  connections: true,
  logs: true,
  share: true,
  startShare: true,
  stopShare: true,
  addServer: true,
  removeServer: true,
  restartServer: true,
  setDocsFolder: true,
  exportBundle: true,
  chooseFolder: true,
};

/** What the preload exposes on `window.harbor` and main answers on `harbor:<method>`, nothing more. */
export const HOST_API_METHODS = Object.freeze(Object.keys(METHODS) as HostApiMethod[]);

export const IPC_CHANNEL_PREFIX = 'harbor:';

/** The admin secret's header (lower case, as Node hands request headers over). */
export const ADMIN_SECRET_HEADER = 'x-harbor-admin-secret';
