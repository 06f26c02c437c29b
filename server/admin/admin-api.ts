import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { sendError, sendJson } from '../http/http-errors.ts';
import { parseBoundedJson } from '../gateway/bounded-json.ts';
import { BodyTooLargeError, readBody, sendBodyTooLarge } from '../http/read-body.ts';
import { isForwarded, isLoopbackPeer } from '../http/request-guard.ts';
import { patternRoutes, routeTable, type Handler as RouteHandler } from '../http/route-table.ts';
import { Heartbeat, SseStream } from '../http/sse-stream.ts';
import { describeIssues } from '../config/load-config.ts';
import { secretMatches } from './admin-secret.ts';
import { ADMIN_SECRET_HEADER, type ActivityEntry, type ConnectionBundle, type ExportRequest, type ExportResult, type HostStatus, type ShareState, type Snippet, type Teammate, type TeammateConnection } from './host-api.ts';

export { ADMIN_SECRET_HEADER };

/** An admin event for the app's notifications and live views. */
export interface AdminEvent {
  type: 'health' | 'alert' | 'share' | 'teammate' | 'server';
  [key: string]: unknown;
}

/**
 * What the host provides to the admin API; optional parts answer 501 when absent. The handlers are
 * thin: the work is in server/services/ (teammates, activity, status), which the CLI uses too when
 * no host answers; typed here structurally, as admin/ does not import services/ (they import the
 * HostApi contract beside this file).
 */
export interface AdminDeps {
  secret: string;
  /** server/services/teammates.ts; a bad scope throws with `status` 400, a bad or taken name is 409. */
  teammates: {
    list(): Teammate[];
    issue(name: string, options: { scope: string[] | null; expiresAt: number | null }): { teammate: Teammate; token: string; bundles: ConnectionBundle[]; merged: Snippet[] };
    revoke(name: string): Promise<{ tokenRevoked: boolean; signInTokensRevoked: number | null; sessionsClosed: number }>;
  };
  /** server/services/status.ts: the assembled status, sessions and servers included. */
  status: () => HostStatus;
  metrics?: () => object;
  history?: (metric: string, since: number) => unknown;
  /** server/services/activity.ts: GET /admin/activity's query string in, newest first. */
  activity?: (params: URLSearchParams) => Promise<ActivityEntry[]>;
  /** The same log summed per teammate and way in (GET /admin/activity/connections). */
  connections?: () => Promise<TeammateConnection[]>;
  /**
   * `copy`: one copy of a pooled server; absent: every copy's lines, labelled. Null: no such process.
   * `process` "host" is Harbor's own host; `server` names a hosted server only (one called "host" too).
   */
  logs?: (process: { host: true } | { server: string }, lines: number, copy: number | undefined) => unknown | null;
  share?: {
    get: () => ShareState;
    start: (request: Record<string, unknown>) => Promise<ShareState>;
    stop: () => Promise<ShareState>;
  };
  manage?: {
    add: (entry: Record<string, unknown>) => Promise<unknown>;
    remove: (name: string) => Promise<boolean>;
    /** Every copy of a pooled server, one after another; only `copy` when given. */
    restart: (name: string, copy: number | undefined) => Promise<unknown>;
    setDocsFolder: (folder: string) => Promise<unknown>;
  };
  /**
   * "Move to a server…": `harbor export`, run by the host's supervisor (main/core/export, which server/
   * may not import); a refusal carries its status (`status`: 400, 409).
   */
  exportBundle?: (request: ExportRequest) => Promise<ExportResult>;
  subscribe?: (listener: (event: AdminEvent) => void) => () => void;
  heartbeat?: Heartbeat;
  /** Sign in with Harbor's owner side (server/oauth/sign-in-with-harbor.ts), typed structurally: admin/ does not import oauth/. */
  signIn?: {
    approvals(): Promise<unknown[]>;
    decide(id: string, approve: boolean): Promise<unknown>;
    invite(name: string, withCode: boolean): Promise<unknown>;
    invites(): Promise<unknown[]>;
    grants(): Promise<unknown[]>;
    revokeTeammate(name: string): Promise<number>;
  };
}

/** Why an admin request is refused, or null. Place checks come before the secret is looked at. */
export function adminRefusal(req: IncomingMessage, secret: string): { status: number; message: string } | null {
  if (!isLoopbackPeer(req)) return { status: 403, message: 'Forbidden: the admin API answers loopback only' };
  if (isForwarded(req)) return { status: 403, message: 'Forbidden: the admin API is not reachable through a proxy or tunnel' };
  const presented = req.headers[ADMIN_SECRET_HEADER];
  if (typeof presented !== 'string' || !secretMatches(presented, secret)) {
    return { status: 401, message: 'Unauthorized: admin secret required' };
  }
  return null;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL, deps: AdminDeps) => Promise<void> | void;

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req, 256 * 1024);
  const parsed = parseBoundedJson(text || '{}', 64);
  if (!parsed.ok) throw new AdminInputError(`body is not usable JSON: ${parsed.reason}`);
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminInputError('body must be a JSON object');
  return value as Record<string, unknown>;
}

function notAvailable(res: ServerResponse, what: string): void {
  sendError(res, 501, `${what} is not available in this host`);
}

/** Sign in with Harbor: who asks to connect, the owner's answer, invites, live sign-ins. */
const SIGN_IN_ROUTES: Array<[string, RegExp, Handler]> = [
  ['GET', /^\/admin\/approvals$/, async (_req, res, _p, _u, deps) =>
    deps.signIn ? sendJson(res, 200, { approvals: await deps.signIn.approvals() }) : notAvailable(res, 'sign-in (config "auth": "tokens")')],
  ['POST', /^\/admin\/approvals\/([^/]+)\/(approve|deny)$/, async (_req, res, [id, answer], _u, deps) =>
    deps.signIn ? sendJson(res, 200, { approval: await withStatus(() => deps.signIn!.decide(id!, answer === 'approve')), decision: answer }) : notAvailable(res, 'sign-in (config "auth": "tokens")')],
  ['GET', /^\/admin\/invites$/, async (_req, res, _p, _u, deps) =>
    deps.signIn ? sendJson(res, 200, { invites: await deps.signIn.invites(), signIns: await deps.signIn.grants() }) : notAvailable(res, 'sign-in (config "auth": "tokens")')],
  ['POST', /^\/admin\/invites$/, async (req, res, _p, _u, deps) => {
    if (!deps.signIn) return notAvailable(res, 'sign-in (config "auth": "tokens")');
    const body = await jsonBody(req);
    if (typeof body.name !== 'string') throw new AdminInputError('name is required');
    sendJson(res, 201, await withStatus(() => deps.signIn!.invite(body.name as string, body.code === true)));
  }],
];

const ROUTES: Array<[string, RegExp, Handler]> = [
  ['GET', /^\/admin\/status$/, (_req, res, _p, _u, deps) => sendJson(res, 200, deps.status())],
  ['GET', /^\/admin\/metrics$/, (_req, res, _p, _u, deps) => (deps.metrics ? sendJson(res, 200, deps.metrics()) : notAvailable(res, 'metrics'))],
  ['GET', /^\/admin\/metrics\/history$/, (_req, res, _p, url, deps) => {
    if (!deps.history) return notAvailable(res, 'metric history');
    const metric = url.searchParams.get('metric');
    if (!metric) return sendError(res, 400, 'metric is required');
    const since = Number(url.searchParams.get('since') ?? Date.now() - 3_600_000);
    sendJson(res, 200, { series: deps.history(metric, Number.isFinite(since) ? since : Date.now() - 3_600_000) });
  }],
  ['GET', /^\/admin\/teammates$/, (_req, res, _p, _u, deps) => sendJson(res, 200, { teammates: deps.teammates.list() })],
  ['POST', /^\/admin\/teammates$/, async (req, res, _p, _u, deps) => {
    const body = await jsonBody(req);
    if (typeof body.name !== 'string') return sendError(res, 400, 'name is required');
    const scope = Array.isArray(body.scope) ? body.scope.map(String) : null;
    const expiresAt = typeof body.expiresAt === 'number' ? body.expiresAt : null;
    try {
      // The bundles, and one snippet per client over all the servers (`merged`: one mcpServers block).
      sendJson(res, 201, deps.teammates.issue(body.name, { scope, expiresAt }));
    } catch (error) {
      sendError(res, statusOf(error) === 400 ? 400 : 409, (error as Error).message);
    }
  }],
  ['DELETE', /^\/admin\/teammates\/([^/]+)$/, async (_req, res, [name], _u, deps) => {
    const revoked = await deps.teammates.revoke(name!);
    if (!revoked.tokenRevoked && !revoked.signInTokensRevoked) return sendError(res, 404, `no active token or sign-in for "${name}"`);
    const { sessionsClosed, signInTokensRevoked } = revoked;
    sendJson(res, 200, { revoked: name, sessionsClosed, ...(signInTokensRevoked !== null ? { signInTokensRevoked } : {}) });
  }],
  ...SIGN_IN_ROUTES,
  ['GET', /^\/admin\/activity$/, async (_req, res, _p, url, deps) => {
    if (!deps.activity) return notAvailable(res, 'activity');
    // teammate, server, limit, and `before` (epoch ms) to page back; a bad `before` is a 400.
    sendJson(res, 200, { entries: await deps.activity(url.searchParams) });
  }],
  ['GET', /^\/admin\/activity\/connections$/, async (_req, res, _p, _u, deps) =>
    deps.connections ? sendJson(res, 200, { connections: await deps.connections() }) : notAvailable(res, 'activity')],
  ['GET', /^\/admin\/logs$/, (_req, res, _p, url, deps) => {
    if (!deps.logs) return notAvailable(res, 'logs');
    const server = url.searchParams.get('server');
    if (server !== null && url.searchParams.has('process')) return sendError(res, 400, 'give process or server, not both');
    // process=host is always Harbor's host process: a hosted server named "host" is read with server=host.
    const name = server ?? url.searchParams.get('process') ?? 'host';
    const lines = Math.min(Math.max(Number(url.searchParams.get('lines') ?? 200) || 200, 1), 2000);
    const tail = deps.logs(server === null && name === 'host' ? { host: true } : { server: name }, lines, copyParam(url));
    if (tail === null) return sendError(res, 404, `no process named "${name}"`);
    sendJson(res, 200, { process: name, lines: tail });
  }],
  ['GET', /^\/admin\/share$/, (_req, res, _p, _u, deps) => (deps.share ? sendJson(res, 200, deps.share.get()) : notAvailable(res, 'sharing'))],
  ['POST', /^\/admin\/share$/, async (req, res, _p, _u, deps) => {
    if (!deps.share) return notAvailable(res, 'sharing');
    sendJson(res, 200, await deps.share.start(await jsonBody(req)));
  }],
  ['DELETE', /^\/admin\/share$/, async (_req, res, _p, _u, deps) => {
    if (!deps.share) return notAvailable(res, 'sharing');
    sendJson(res, 200, await deps.share.stop());
  }],
  ['POST', /^\/admin\/servers$/, async (req, res, _p, _u, deps) => {
    if (!deps.manage) return notAvailable(res, 'server management');
    sendJson(res, 201, await deps.manage.add(await jsonBody(req)));
  }],
  ['DELETE', /^\/admin\/servers\/([^/]+)$/, async (_req, res, [name], _u, deps) => {
    if (!deps.manage) return notAvailable(res, 'server management');
    const removed = await deps.manage.remove(name!);
    if (!removed) return sendError(res, 404, `no server named "${name}"`);
    sendJson(res, 200, { removed: name });
  }],
  ['POST', /^\/admin\/servers\/([^/]+)\/restart$/, async (_req, res, [name], url, deps) => {
    if (!deps.manage) return notAvailable(res, 'server management');
    sendJson(res, 200, await deps.manage.restart(name!, copyParam(url)));
  }],
  ['PUT', /^\/admin\/docs$/, async (req, res, _p, _u, deps) => {
    if (!deps.manage) return notAvailable(res, 'server management');
    const body = await jsonBody(req);
    if (typeof body.folder !== 'string' || !body.folder) return sendError(res, 400, 'folder is required');
    sendJson(res, 200, await deps.manage.setDocsFolder(body.folder));
  }],
  ['POST', /^\/admin\/export$/, async (req, res, _p, _u, deps) => {
    if (!deps.exportBundle) return notAvailable(res, 'export (it runs beside the host: the app or harbor serve)');
    const request = ExportRequestSchema.safeParse(await jsonBody(req));
    if (!request.success) throw new AdminInputError(describeIssues(request.error).join('; '));
    const exported = deps.exportBundle(request.data as ExportRequest);
    sendJson(res, 200, await exported.catch((error: unknown) => withStatus(() => { throw error; })));
  }],
  ['GET', /^\/admin\/events$/, (_req, res, _p, _u, deps) => {
    if (!deps.subscribe || !deps.heartbeat) return notAvailable(res, 'events');
    const stream = new SseStream(res, { heartbeat: deps.heartbeat });
    const unsubscribe = deps.subscribe((event) => stream.send(JSON.stringify(event), { event: event.type }));
    stream.onClose = unsubscribe;
  }],
];

/** POST /admin/export's body: the folder is on the host's machine, so relative paths mean nothing. */
const ExportRequestSchema = z.strictObject({
  dir: z.string().min(1).refine(isAbsolute, 'must be an absolute path on the host\'s machine'),
  withTokens: z.boolean().optional(),
  force: z.boolean().optional(),
});

/** Errors that carry their HTTP status (an unknown approval: 404; a bad name: 400) keep it. */
async function withStatus<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number') throw new AdminStatusError((error as Error).message, status);
    if ((error as Error).name === 'TokenNameError') throw new AdminInputError((error as Error).message);
    throw error;
  }
}

export class AdminStatusError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** Operator errors (bad input, unknown names) are 400s with their message, not 500s. */
export class AdminInputError extends Error {}

/** `?copy=N`: one copy of a pooled server (0 is the first); absent: all of them. */
function copyParam(url: URL): number | undefined {
  const raw = url.searchParams.get('copy');
  if (raw === null) return undefined;
  if (!/^\d{1,4}$/.test(raw)) throw new AdminInputError(`copy must be a copy number (0, 1, …), not "${raw.slice(0, 40)}"`);
  return Number(raw);
}

/** Something the request needs is gone (the supervisor that runs the tunnel hung up): 503, not 500. */
export class AdminUnavailableError extends Error {}

function statusOf(error: unknown): number {
  if (error instanceof AdminInputError || error instanceof SyntaxError) return 400;
  if (error instanceof AdminUnavailableError) return 503;
  if (error instanceof AdminStatusError) return error.status;
  // The services' refusals (server/services/input-error.ts) carry theirs.
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return 500;
}

/** Path parameters, percent-decoded once for every route; null when one is malformed (`%E0%A4%A`). */
function decodeParams(raw: string[]): string[] | null {
  try {
    return raw.map((p) => decodeURIComponent(p));
  } catch {
    return null;
  }
}

/** An admin request as the table's routes read it. */
interface AdminRequest {
  path: string;
  url: URL;
  deps: AdminDeps;
}

/** A row's handler on the table: its path parameters decoded once, its errors answered with their status. */
function answered(handler: Handler): RouteHandler<AdminRequest & { params: string[] }> {
  return async (req, res, { params: raw, url, deps }) => {
    const params = decodeParams(raw);
    if (!params) return sendError(res, 400, 'Bad Request: malformed percent-encoding in the path');
    try {
      await handler(req, res, params, url, deps);
    } catch (error) {
      if (error instanceof BodyTooLargeError) sendBodyTooLarge(res, error);
      else sendError(res, statusOf(error), (error as Error).message);
    }
  };
}

/** The host's route table (http/route-table.ts): a known path with another method is a 405 with Allow. */
const ADMIN_TABLE = routeTable<AdminRequest>(
  patternRoutes(ROUTES.map(([method, pattern, handler]) => [method, pattern, answered(handler)] as const)),
  (req, res, { path }) => sendError(res, 404, `no admin route ${req.method} ${path.slice(0, 100)}`),
);

/** The app's and the CLI's API. Teammate-facing routes never reach here. */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, url: URL, deps: AdminDeps): Promise<void> {
  const refused = adminRefusal(req, deps.secret);
  if (refused) {
    sendError(res, refused.status, refused.message);
    return;
  }
  await ADMIN_TABLE(req, res, { path, url, deps });
}
