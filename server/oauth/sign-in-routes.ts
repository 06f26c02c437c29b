import express, { type Request, type Response } from 'express';
import type { TokenBucket } from '../access/token-bucket.ts';
import type { GrantStore } from './grant-store.ts';
import type { InviteStore } from './invite-store.ts';
import { clientAddress } from './oauth-origin.ts';
import { signInCookieName } from './harbor-oauth-provider.ts';
import { messagePage, sendPage, signInForm, waitingPage } from './sign-in-page.ts';
import { SignInRequestError, type SignInRequest, type SignInRequestStore } from './sign-in-requests.ts';

export interface SignInRouteDeps {
  grants: GrantStore;
  invites: InviteStore;
  requests: SignInRequestStore;
  /** Form submissions per visitor address: names and codes cannot be tried in bulk. */
  attempts: TokenBucket;
  /** Seconds between the waiting page's checks. */
  pollSeconds: number;
}

const NAME_PATTERN = /^[\p{L}\p{N}_.@ -]{1,64}$/u;

/** One cookie's value from a Cookie header (hand-parsed: one name, no attributes to interpret). */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function field(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The request `id` for the browser that opened it (and, for the form post, its CSRF token). */
async function findRequest(req: Request, deps: SignInRouteDeps, id: string | undefined, csrf?: string | null): Promise<SignInRequest> {
  if (!id || !/^[0-9a-f]{12}$/.test(id)) throw new SignInRequestError('this sign-in link is incomplete; start again from your client', 400);
  return deps.requests.get(id, cookieValue(req.headers.cookie, signInCookieName(id)), csrf);
}

function refuse(res: Response, error: unknown): void {
  if (!(error instanceof SignInRequestError)) throw error;
  sendPage(res, error.status, messagePage('Cannot continue this sign-in', error.message));
}

/** Where the client's browser goes back to: the redirect URI checked at /authorize, with `iss` (RFC 9207). */
function clientRedirect(request: SignInRequest, params: Record<string, string>): string {
  const target = new URL(request.authorization.redirectUri);
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  if (request.authorization.state !== undefined) target.searchParams.set('state', request.authorization.state);
  target.searchParams.set('iss', request.authorization.issuer);
  return target.href;
}

/**
 * POST /signin (the form) and GET /signin/wait (the page that waits for the owner, then sends the
 * browser back to the client with its code). Both are public: they are what the tunnel shows a
 * teammate. Nothing here can approve: only the admin API (loopback, owner's secret) or an invite code.
 */
export function signInRoutes(deps: SignInRouteDeps): express.Router {
  const router = express.Router();
  router.use('/signin', express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 }));

  router.post('/signin', async (req, res) => {
    const taken = deps.attempts.take(clientAddress(req));
    if (!taken.ok) {
      sendPage(res, 429, messagePage('Too many attempts', `Wait ${taken.retryAfterSeconds} seconds, then try again.`), { 'Retry-After': String(taken.retryAfterSeconds) });
      return;
    }
    let request: SignInRequest;
    try {
      request = await findRequest(req, deps, field(req.body, 'request'), field(req.body, 'csrf') ?? null);
    } catch (error) {
      return refuse(res, error);
    }
    const again = (message: string) =>
      sendPage(res, 400, signInForm({ requestId: request.id, csrf: request.csrf, clientName: request.authorization.clientName, resource: request.authorization.resource, error: message }));
    const code = field(req.body, 'code')?.trim() ?? '';
    const name = field(req.body, 'name')?.trim() ?? '';
    try {
      if (code) {
        const invited = await deps.invites.redeemCode(code);
        if (!invited) return again('That code is unknown, used or expired. Ask the host for a new one, or enter your name alone.');
        await deps.requests.submit(request.id, invited, { invited: true, preApproved: true });
      } else {
        if (!NAME_PATTERN.test(name)) return again('Enter your name (1-64 letters, digits, spaces or _ . @ -).');
        const invited = await deps.invites.invited(name);
        await deps.requests.submit(request.id, invited ?? name, { invited: invited !== null, preApproved: false });
      }
    } catch (error) {
      return refuse(res, error);
    }
    res.redirect(303, `/signin/wait?request=${request.id}`);
  });

  router.get('/signin/wait', async (req, res) => {
    let request: SignInRequest;
    try {
      request = await findRequest(req, deps, typeof req.query.request === 'string' ? req.query.request : undefined);
    } catch (error) {
      return refuse(res, error);
    }
    const clearCookie = `${signInCookieName(request.id)}=; Path=/signin; Max-Age=0; HttpOnly; SameSite=Strict`;
    switch (request.status) {
      case 'form':
        sendPage(res, 200, signInForm({ requestId: request.id, csrf: request.csrf, clientName: request.authorization.clientName, resource: request.authorization.resource }));
        return;
      case 'waiting':
        sendPage(res, 200, waitingPage(request.teammate!, request.authorization.clientName, deps.pollSeconds, Math.round(deps.requests.ttlMs / 60_000)));
        return;
      case 'approved': {
        const { authorization } = request;
        // Claimed first: of two polls (on any replicas) only one gets a code.
        if (!(await deps.requests.finish(request.id, 'approved'))) return refuse(res, new SignInRequestError('this sign-in was already completed; start again from your client', 404));
        // The code exists only from here on: single use, short-lived, bound to client, redirect, PKCE and audience.
        const code = await deps.grants.issueCode({
          clientId: authorization.clientId,
          teammate: request.teammate!,
          resource: authorization.resource,
          scopes: authorization.scopes,
          codeChallenge: authorization.codeChallenge,
          redirectUri: authorization.redirectUri,
        });
        res.setHeader('Set-Cookie', clearCookie);
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, clientRedirect(request, { code }));
        return;
      }
      case 'denied':
        await deps.requests.finish(request.id, 'denied');
        res.setHeader('Set-Cookie', clearCookie);
        res.redirect(302, clientRedirect(request, { error: 'access_denied', error_description: 'the host declined this sign-in' }));
        return;
    }
  });
  return router;
}
