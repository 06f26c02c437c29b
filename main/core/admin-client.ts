import { ADMIN_SECRET_HEADER, type HostApi, type HostStatus, type Teammate } from '../../server/admin/host-api.ts';
import { readAdminSecret } from '../../server/admin/admin-secret.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';

export class HostNotRunningError extends Error {}

/** The CLI's way to a running host: its admin API, found through `<home>/host.json` and `<home>/admin.secret`. */
export class AdminClient implements Pick<HostApi, 'status' | 'teammates'> {
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

  async teammates(): Promise<Teammate[]> {
    return (await this.request<{ teammates: Teammate[] }>('GET', '/admin/teammates')).teammates;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { [ADMIN_SECRET_HEADER]: this.#secret, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const payload = (await res.json()) as T & { error?: { message: string } };
    if (!res.ok) throw new Error(payload.error?.message ?? `HTTP ${res.status}`);
    return payload;
  }
}
