import { request as httpRequest } from '../../server/node-http.ts';
import { ADMIN_SECRET_HEADER, type ActivityEntry, type HostApi, type HostStatus, type NewTeammate, type SignInApproval, type Teammate, type TeammateConnection } from '../../server/admin/host-api.ts';
import type { IssueOptions } from '../../server/auth/token-store.ts';
import type { AssembledStatus, HostMetrics } from '../../server/services/status.ts';
import { readAdminSecret } from '../../server/admin/admin-secret.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';

export class HostNotRunningError extends Error {}

/** The CLI's way to a running host: its admin API, found through `<home>/host.json` and `<home>/admin.secret`. */
export class AdminClient implements Pick<HostApi, 'status' | 'teammates' | 'revokeTeammate' | 'approvals'> {
  readonly baseUrl: string;
  readonly #secret: string;

  private constructor(baseUrl: string, secret: string) {
    this.baseUrl = baseUrl;
    this.#secret = secret;
  }

  /** A client for a host whose URL and secret are known (the one this process supervises). */
  static forHost(baseUrl: string, secret: string): AdminClient {
    return new AdminClient(baseUrl, secret);
  }

  /** A client for the host running under `home`, or null when none answers. */
  static async connect(home: string): Promise<AdminClient | null> {
    const runtime = readHostRuntime(home);
    const secret = readAdminSecret(home);
    if (!runtime || !secret) return null;
    const client = new AdminClient(runtime.url, secret);
    try {
      await client.request('GET', '/admin/status');
      return client;
    } catch {
      return null;
    }
  }

  status(): Promise<HostStatus> {
    return this.request('GET', '/admin/status');
  }

  /** This version's host answers with every part (server/services/status.ts). */
  assembledStatus(): Promise<AssembledStatus> {
    return this.request('GET', '/admin/status');
  }

  metrics(): Promise<HostMetrics> {
    return this.request('GET', '/admin/metrics');
  }

  async teammates(): Promise<Teammate[]> {
    return (await this.request<{ teammates: Teammate[] }>('GET', '/admin/teammates')).teammates;
  }

  /** A token, with its scope and expiry, and the bundles for the servers it reaches. */
  issueTeammate(name: string, options: IssueOptions = {}): Promise<NewTeammate> {
    return this.request('POST', '/admin/teammates', { name, scope: options.scope ?? null, expiresAt: options.expiresAt ?? null });
  }

  /** Their token and sign-ins revoked, their open sessions closed. */
  revokeTeammate(name: string): Promise<{ revoked: string; sessionsClosed: number }> {
    return this.request('DELETE', `/admin/teammates/${encodeURIComponent(name)}`);
  }

  /** Sign-ins waiting for the owner; refused (501) while sign-in is off (auth "tokens"). */
  async approvals(): Promise<SignInApproval[]> {
    return (await this.request<{ approvals: SignInApproval[] }>('GET', '/admin/approvals')).approvals;
  }

  /** Per teammate and way in, most recently used first (GET /admin/activity/connections). */
  async connections(): Promise<TeammateConnection[]> {
    return (await this.request<{ connections: TeammateConnection[] }>('GET', '/admin/activity/connections')).connections;
  }

  /** GET /admin/activity with this query string (teammate, server, limit, before). */
  async activity(params: URLSearchParams): Promise<ActivityEntry[]> {
    return (await this.request<{ entries: ActivityEntry[] }>('GET', `/admin/activity?${params}`)).entries;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<T> {
    const text = body !== undefined ? JSON.stringify(body) : undefined;
    const headers = { [ADMIN_SECRET_HEADER]: this.#secret, ...(text !== undefined ? { 'Content-Type': 'application/json' } : {}) };
    const res = await requestText(new URL(this.baseUrl + path), { method, headers, body: text, timeoutMs });
    const payload = JSON.parse(res.body) as T & { error?: { message: string } };
    if (res.status < 200 || res.status > 299) throw new Error(payload.error?.message ?? `HTTP ${res.status}`);
    return payload;
  }
}

/**
 * The host did not answer (a timeout, a refused or dropped connection), as opposed to answering
 * with a refusal: the CLI then does the work on the store itself.
 */
export function isNoAnswer(error: unknown): boolean {
  const { name, code } = error as { name?: string; code?: unknown };
  return name === 'TimeoutError' || name === 'AbortError' || error instanceof TypeError || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}

/**
 * One HTTP exchange over node:http rather than fetch: fetch loads undici (its own HTTP stack and the llhttp
 * WebAssembly), about 15 MB of RSS in `harbor serve`'s controller, which polls the host every few seconds
 * and otherwise needs no HTTP client at all. The host is on loopback, plain HTTP.
 */
function requestText(url: URL, options: { method: string; headers: Record<string, string>; body: string | undefined; timeoutMs: number }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The signal bounds the whole exchange, as fetch's did (a socket timeout would bound only silences).
    const req = httpRequest(url, { method: options.method, headers: options.headers, signal: AbortSignal.timeout(options.timeoutMs) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
