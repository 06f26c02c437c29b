import { createHash, randomBytes } from 'node:crypto';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { ADMIN_SECRET_HEADER } from '../../server/admin/admin-api.ts';

/** An SDK OAuthClientProvider that keeps everything in memory and records where it was sent. */
export class MemoryOAuthClient implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | null = null;
  readonly redirectUrl: string;
  readonly clientMetadata: OAuthClientMetadata;

  constructor(options: { name?: string; redirectUrl?: string } = {}) {
    this.redirectUrl = options.redirectUrl ?? 'http://127.0.0.1:53682/callback';
    this.clientMetadata = {
      client_name: options.name ?? 'Test Client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    return randomBytes(16).toString('base64url');
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

export interface SignInPage {
  status: number;
  html: string;
  requestId: string;
  csrf: string;
  cookie: string;
}

/** Opens the authorize URL like a browser: the sign-in form, its hidden fields and the cookie it set. */
export async function openAuthorize(url: URL | string): Promise<SignInPage> {
  const res = await fetch(url, { redirect: 'manual' });
  const html = await res.text();
  const requestId = /name="request" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { status: res.status, html, requestId, csrf, cookie };
}

/** Posts the sign-in form (fields overridable, to forge it). */
export async function submitSignIn(base: string, page: SignInPage, fields: Record<string, string>, cookie = page.cookie): Promise<Response> {
  const body = new URLSearchParams({ request: page.requestId, csrf: page.csrf, ...fields });
  return fetch(`${base}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    body,
  });
}

/** The waiting page, as the browser polls it. */
export function pollWait(base: string, page: SignInPage, cookie = page.cookie): Promise<Response> {
  return fetch(`${base}/signin/wait?request=${page.requestId}`, { redirect: 'manual', headers: cookie ? { Cookie: cookie } : {} });
}

export function adminFetch(base: string, secret: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + path, {
    method,
    headers: { ...(secret ? { [ADMIN_SECRET_HEADER]: secret } : {}), 'Content-Type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/**
 * The whole browser step: open the authorize URL, sign in as `name`, have the owner approve through the
 * admin API, follow the waiting page's redirect. Returns the client's redirect URL with the code.
 */
export async function signInAndApprove(base: string, secret: string, authorizationUrl: URL, name: string): Promise<URL> {
  const page = await openAuthorize(authorizationUrl);
  if (page.status !== 200) throw new Error(`authorize answered ${page.status}: ${page.html.slice(0, 300)}`);
  const submitted = await submitSignIn(base, page, { name });
  await submitted.arrayBuffer();
  if (submitted.status !== 303) throw new Error(`sign-in form answered ${submitted.status}`);
  const approved = await adminFetch(base, secret, 'POST', `/admin/approvals/${page.requestId}/approve`);
  if (approved.status !== 200) throw new Error(`approve answered ${approved.status}: ${await approved.text()}`);
  const back = await pollWait(base, page);
  await back.arrayBuffer();
  if (back.status !== 302) throw new Error(`waiting page answered ${back.status}`);
  return new URL(back.headers.get('location')!);
}

/** The protocol steps by hand, for the negative tests: PKCE pair, registration, authorize URL, token calls. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function registerClient(base: string, redirectUri = 'http://127.0.0.1:53682/callback', name = 'Raw Client'): Promise<{ client_id: string }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { client_id: string };
}

export function authorizeUrl(base: string, params: { clientId: string; challenge: string; redirectUri?: string; resource?: string; state?: string }): URL {
  const url = new URL(`${base}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: params.clientId,
    redirect_uri: params.redirectUri ?? 'http://127.0.0.1:53682/callback',
    code_challenge: params.challenge,
    code_challenge_method: 'S256',
    state: params.state ?? 'st-1',
    ...(params.resource ? { resource: params.resource } : {}),
  }).toString();
  return url;
}

export function tokenRequest(base: string, body: Record<string, string>): Promise<Response> {
  return fetch(`${base}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
}
