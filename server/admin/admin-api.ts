import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenStore } from '../auth/token-store.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import { sendError, sendJson } from '../http/http-errors.ts';
import { readBody } from '../http/read-body.ts';
import type { SessionRegistry } from '../http/session-registry.ts';
import { secretMatches } from './admin-secret.ts';

export const ADMIN_SECRET_HEADER = 'x-harbor-admin-secret';

/** Headers a tunnel or reverse proxy adds: an admin request carrying any of them came from outside. */
const FORWARDING_HEADERS = ['cf-connecting-ip', 'cf-ray', 'cf-visitor', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip'];

export interface AdminDeps {
  secret: string;
  tokens: TokenStore;
  servers: Map<string, HostedServer>;
  registry: SessionRegistry;
  /** Extra status the host adds (process, docs, share state ...). */
  status: () => Record<string, unknown>;
  /** Renders a new teammate's connection bundle for every server their token reaches. */
  connectionBundles?: (teammate: string, token: string) => unknown;
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** Why an admin request is refused, or null. The checks run before the secret is even looked at. */
export function adminRefusal(req: IncomingMessage, secret: string): { status: number; message: string } | null {
  if (!isLoopback(req.socket.remoteAddress)) return { status: 403, message: 'Forbidden: the admin API answers loopback only' };
  for (const header of FORWARDING_HEADERS) {
    if (req.headers[header] !== undefined) return { status: 403, message: 'Forbidden: the admin API is not reachable through a proxy or tunnel' };
  }
  const presented = req.headers[ADMIN_SECRET_HEADER];
  if (typeof presented !== 'string' || !secretMatches(presented, secret)) {
    return { status: 401, message: 'Unauthorized: admin secret required' };
  }
  return null;
}

/** The app's and the CLI's API: status, teammates. Teammate-facing routes never reach here. */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, deps: AdminDeps): Promise<void> {
  const refused = adminRefusal(req, deps.secret);
  if (refused) {
    sendError(res, refused.status, refused.message);
    return;
  }
  const route = `${req.method} ${path}`;
  if (route === 'GET /admin/status') {
    sendJson(res, 200, {
      ...deps.status(),
      sessions: deps.registry.size,
      servers: [...deps.servers.values()].map((s) => s.status()),
    });
    return;
  }
  if (route === 'GET /admin/teammates') {
    sendJson(res, 200, { teammates: deps.tokens.list() });
    return;
  }
  if (route === 'POST /admin/teammates') {
    let body: { name?: unknown; scope?: unknown; expiresAt?: unknown };
    try {
      body = JSON.parse(await readBody(req, 64 * 1024)) as typeof body;
    } catch {
      sendError(res, 400, 'body must be JSON: {"name": "..."}');
      return;
    }
    if (typeof body.name !== 'string') {
      sendError(res, 400, 'name is required');
      return;
    }
    try {
      const scope = Array.isArray(body.scope) ? body.scope.map(String) : null;
      const expiresAt = typeof body.expiresAt === 'number' ? body.expiresAt : null;
      const { token, teammate } = deps.tokens.issue(body.name, { scope, expiresAt });
      sendJson(res, 201, { teammate, token, bundles: deps.connectionBundles?.(teammate.name, token) ?? null });
    } catch (error) {
      sendError(res, 409, (error as Error).message);
    }
    return;
  }
  const revoke = /^DELETE \/admin\/teammates\/([^/]+)$/.exec(route);
  if (revoke) {
    const name = decodeURIComponent(revoke[1]!);
    if (!deps.tokens.revoke(name)) {
      sendError(res, 404, `no active token for "${name}"`);
      return;
    }
    const closed = await deps.registry.endTeammate(name, 'token revoked');
    sendJson(res, 200, { revoked: name, sessionsClosed: closed });
    return;
  }
  sendError(res, 404, `no admin route ${route.slice(0, 100)}`);
}
