/**
 * The only way the UI reaches Harbor: the `HostApi` contract (server/admin/host-api.ts, imported as
 * types only: this file is served as stripped TypeScript and loads nothing from server/) with two
 * adapters, HTTP (browser dashboard, tests, and main's side of the IPC bridge) and IPC (the Electron
 * popover, through the preload's `window.harbor`). Runs in a browser and under Node: no DOM types here.
 */
import type {
  ActivityEntry,
  ActivityFilter,
  ADMIN_SECRET_HEADER as CONTRACT_SECRET_HEADER,
  ExportRequest,
  ExportResult,
  FolderPurpose,
  HistorySeries,
  HostApi,
  HostApiMethod,
  HostedServerStatus,
  HostStatus,
  LiveSignIn,
  LogLine,
  MetricsResponse,
  NewServer,
  NewTeammate,
  ShareRequest,
  ShareState,
  SignInApproval,
  SignInDecision,
  Teammate,
  TeammateConnection,
} from '../server/admin/host-api.ts';

export type {
  ActivityEntry,
  ActivityFilter,
  AlertStatus,
  ConnectionBundle,
  DeployPath,
  ExportRequest,
  ExportResult,
  FolderPurpose,
  Health,
  HealthState,
  HistorySeries,
  HostApi,
  HostApiMethod,
  HostedServerStatus,
  HostStatus,
  LatencySummary,
  LiveSignIn,
  LogLine,
  MetricsJson,
  MetricsResponse,
  NewServer,
  NewTeammate,
  ProcessInfo,
  ServerMode,
  ShareRequest,
  ShareState,
  ShareStateName,
  SignInApproval,
  SignInDecision,
  Snippet,
  Teammate,
  TeammateConnection,
  ConnectedVia,
} from '../server/admin/host-api.ts';

/** The contract's header name, restated (the renderer loads no server code); the type holds them equal. */
export const ADMIN_SECRET_HEADER: typeof CONTRACT_SECRET_HEADER = 'x-harbor-admin-secret';

export class HostApiError extends Error {
  override readonly name = 'HostApiError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * True when the host has no such admin route (an older host: 404 "no admin route …") or lacks that part
 * (501 "… is not available in this host"): the UI shows an empty state, not an error. Tested on the
 * message because only the message crosses IPC.
 */
export function isMissingEndpoint(error: unknown): boolean {
  return error instanceof Error && /no admin route|is not available in this host/.test(error.message);
}

export interface HttpHostApiOptions {
  /** The host's base URL; '' means the page's own origin (the browser dashboard). */
  baseUrl: string;
  secret: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The admin API over HTTP. */
export class HttpHostApi implements HostApi {
  readonly #options: HttpHostApiOptions;

  constructor(options: HttpHostApiOptions) {
    this.#options = options;
  }

  async #request<T>(method: string, path: string, body?: unknown, timeoutMs = this.#options.timeoutMs ?? 10_000): Promise<T> {
    const doFetch = this.#options.fetch ?? fetch;
    const res = await doFetch(this.#options.baseUrl + path, {
      method,
      headers: {
        [ADMIN_SECRET_HEADER]: this.#options.secret,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let payload: unknown = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    if (!res.ok) {
      const message = (payload as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${res.status}`;
      throw new HostApiError(res.status, message);
    }
    return payload as T;
  }

  status(): Promise<HostStatus> {
    return this.#request('GET', '/admin/status');
  }
  metrics(): Promise<MetricsResponse> {
    return this.#request('GET', '/admin/metrics');
  }
  async metricsHistory(metric: string, since: number): Promise<HistorySeries[]> {
    const query = new URLSearchParams({ metric, since: String(Math.round(since)) });
    const answer = await this.#request<{ series: HistorySeries[] }>('GET', `/admin/metrics/history?${query}`);
    return answer.series;
  }
  async teammates(): Promise<Teammate[]> {
    return (await this.#request<{ teammates: Teammate[] }>('GET', '/admin/teammates')).teammates;
  }
  addTeammate(name: string): Promise<NewTeammate> {
    return this.#request('POST', '/admin/teammates', { name });
  }
  revokeTeammate(name: string): Promise<{ revoked: string; sessionsClosed: number }> {
    return this.#request('DELETE', `/admin/teammates/${encodeURIComponent(name)}`);
  }
  async approvals(): Promise<SignInApproval[]> {
    return (await this.#request<{ approvals: SignInApproval[] }>('GET', '/admin/approvals')).approvals;
  }
  approve(id: string): Promise<SignInDecision> {
    return this.#request('POST', `/admin/approvals/${encodeURIComponent(id)}/approve`);
  }
  deny(id: string): Promise<SignInDecision> {
    return this.#request('POST', `/admin/approvals/${encodeURIComponent(id)}/deny`);
  }
  async signIns(): Promise<LiveSignIn[]> {
    return (await this.#request<{ signIns: LiveSignIn[] }>('GET', '/admin/invites')).signIns;
  }
  async activity(filter: ActivityFilter = {}): Promise<ActivityEntry[]> {
    const query = new URLSearchParams();
    if (filter.teammate) query.set('teammate', filter.teammate);
    if (filter.server) query.set('server', filter.server);
    if (filter.limit) query.set('limit', String(filter.limit));
    if (filter.before !== undefined) query.set('before', String(filter.before));
    const suffix = query.size ? `?${query}` : '';
    return (await this.#request<{ entries: ActivityEntry[] }>('GET', `/admin/activity${suffix}`)).entries;
  }
  async connections(): Promise<TeammateConnection[]> {
    return (await this.#request<{ connections: TeammateConnection[] }>('GET', '/admin/activity/connections')).connections;
  }
  async logs(process: string, lines = 200): Promise<LogLine[]> {
    const query = new URLSearchParams({ process, lines: String(lines) });
    return (await this.#request<{ lines: LogLine[] }>('GET', `/admin/logs?${query}`)).lines;
  }
  share(): Promise<ShareState> {
    return this.#request('GET', '/admin/share');
  }
  startShare(request: ShareRequest): Promise<ShareState> {
    return this.#request('POST', '/admin/share', request);
  }
  stopShare(): Promise<ShareState> {
    return this.#request('DELETE', '/admin/share');
  }
  addServer(server: NewServer): Promise<HostedServerStatus> {
    return this.#request('POST', '/admin/servers', server);
  }
  removeServer(name: string): Promise<{ removed: string | boolean }> {
    return this.#request('DELETE', `/admin/servers/${encodeURIComponent(name)}`);
  }
  restartServer(name: string): Promise<HostedServerStatus> {
    return this.#request('POST', `/admin/servers/${encodeURIComponent(name)}/restart`);
  }
  setDocsFolder(folder: string): Promise<{ folder: string }> {
    return this.#request('PUT', '/admin/docs', { folder });
  }
  exportBundle(request: ExportRequest): Promise<ExportResult> {
    // The export copies Harbor's package (tens of MB); the host's own wait for it is 10 minutes.
    return this.#request('POST', '/admin/export', request, 10 * 60_000);
  }
  async chooseFolder(): Promise<string | null> {
    return null;
  }
}

/** What the preload puts on `window.harbor`: each HostApi method as an `ipcRenderer.invoke`. */
export type HarborBridge = { [M in HostApiMethod]: (...args: Parameters<HostApi[M]>) => Promise<unknown> };

/** The popover's adapter: the preload's bridge, typed. Main answers each call through HttpHostApi. */
export class IpcHostApi implements HostApi {
  readonly #bridge: HarborBridge;

  constructor(bridge: HarborBridge) {
    this.#bridge = bridge;
  }

  /** The bridge when this page runs in the Electron popover, else null. */
  static bridge(): HarborBridge | null {
    const candidate = (globalThis as { harbor?: HarborBridge }).harbor;
    return candidate && typeof candidate.status === 'function' ? candidate : null;
  }

  status(): Promise<HostStatus> {
    return this.#bridge.status() as Promise<HostStatus>;
  }
  metrics(): Promise<MetricsResponse> {
    return this.#bridge.metrics() as Promise<MetricsResponse>;
  }
  metricsHistory(metric: string, since: number): Promise<HistorySeries[]> {
    return this.#bridge.metricsHistory(metric, since) as Promise<HistorySeries[]>;
  }
  teammates(): Promise<Teammate[]> {
    return this.#bridge.teammates() as Promise<Teammate[]>;
  }
  addTeammate(name: string): Promise<NewTeammate> {
    return this.#bridge.addTeammate(name) as Promise<NewTeammate>;
  }
  revokeTeammate(name: string): Promise<{ revoked: string; sessionsClosed: number }> {
    return this.#bridge.revokeTeammate(name) as Promise<{ revoked: string; sessionsClosed: number }>;
  }
  approvals(): Promise<SignInApproval[]> {
    return this.#bridge.approvals() as Promise<SignInApproval[]>;
  }
  approve(id: string): Promise<SignInDecision> {
    return this.#bridge.approve(id) as Promise<SignInDecision>;
  }
  deny(id: string): Promise<SignInDecision> {
    return this.#bridge.deny(id) as Promise<SignInDecision>;
  }
  signIns(): Promise<LiveSignIn[]> {
    return this.#bridge.signIns() as Promise<LiveSignIn[]>;
  }
  activity(filter?: ActivityFilter): Promise<ActivityEntry[]> {
    return this.#bridge.activity(filter) as Promise<ActivityEntry[]>;
  }
  connections(): Promise<TeammateConnection[]> {
    return this.#bridge.connections() as Promise<TeammateConnection[]>;
  }
  logs(process: string, lines?: number): Promise<LogLine[]> {
    return this.#bridge.logs(process, lines) as Promise<LogLine[]>;
  }
  share(): Promise<ShareState> {
    return this.#bridge.share() as Promise<ShareState>;
  }
  startShare(request: ShareRequest): Promise<ShareState> {
    return this.#bridge.startShare(request) as Promise<ShareState>;
  }
  stopShare(): Promise<ShareState> {
    return this.#bridge.stopShare() as Promise<ShareState>;
  }
  addServer(server: NewServer): Promise<HostedServerStatus> {
    return this.#bridge.addServer(server) as Promise<HostedServerStatus>;
  }
  removeServer(name: string): Promise<{ removed: string | boolean }> {
    return this.#bridge.removeServer(name) as Promise<{ removed: string | boolean }>;
  }
  restartServer(name: string): Promise<HostedServerStatus> {
    return this.#bridge.restartServer(name) as Promise<HostedServerStatus>;
  }
  setDocsFolder(folder: string): Promise<{ folder: string }> {
    return this.#bridge.setDocsFolder(folder) as Promise<{ folder: string }>;
  }
  exportBundle(request: ExportRequest): Promise<ExportResult> {
    return this.#bridge.exportBundle(request) as Promise<ExportResult>;
  }
  chooseFolder(purpose?: FolderPurpose): Promise<string | null> {
    return this.#bridge.chooseFolder(purpose) as Promise<string | null>;
  }
}
