import { randomBytes } from 'node:crypto';
import { secretMatches } from '../admin/admin-secret.ts';
import type { SignInApproval } from '../admin/host-api.ts';

/**
 * Sign-in requests between the authorize step and the owner's answer, bounded in count and in time: a
 * request expires `ttlMs` after it was opened and again after it was submitted. Two implementations:
 * in memory (below, one host: a request lives minutes, and a restart loses only requests the client
 * retries anyway) and in PostgreSQL (store/postgres/pg-sign-in-requests.ts: a sign-in opened on one
 * replica is polled and approved on any other).
 */

export interface AuthorizationRequest {
  clientId: string;
  clientName: string;
  redirectUri: string;
  codeChallenge: string;
  state?: string;
  scopes: string[];
  resource: string;
  /** The issuer the client talks to, for `iss` in the response (RFC 9207). */
  issuer: string;
}

export type SignInStatus = 'form' | 'waiting' | 'approved' | 'denied';

/** A request as read: a snapshot, changed only through the store. */
export interface SignInRequest {
  /** Public: in the waiting page's URL and the owner's approval list. */
  readonly id: string;
  /** Form token (CSRF) embedded in the page. */
  readonly csrf: string;
  readonly authorization: AuthorizationRequest;
  readonly openedAt: number;
  readonly expiresAt: number;
  readonly status: SignInStatus;
  readonly teammate: string | null;
  /** The name matched an open invite (shown to the owner; an unknown name can still ask). */
  readonly invited: boolean;
  readonly submittedAt: number | null;
}

/** What `open` answers: the request and the cookie value binding it to the browser (never read back). */
export interface OpenedSignInRequest extends SignInRequest {
  readonly browser: string;
}

/** What the owner sees, no secrets: the HostApi contract's own type (the admin API and the app read it). */
export type PendingApproval = SignInApproval;

export class SignInRequestError extends Error {
  override name = 'SignInRequestError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

export interface SignInRequestsOptions {
  now?: () => number;
  ttlMs?: number;
  /** Live requests at most; beyond it new sign-ins wait (an unknown caller cannot fill the store). */
  maxRequests?: number;
}

export interface SignInRequestStore {
  readonly ttlMs: number;
  /** Called when a request starts waiting for the owner (with replicas: on every replica, once). */
  onWaiting: (approval: PendingApproval) => void;
  /** Throws 503 when `maxRequests` are live. */
  open(authorization: AuthorizationRequest): Promise<OpenedSignInRequest>;
  /**
   * The request `id` if the caller is the browser that opened it: the cookie matches, and for a form
   * post the CSRF token too (both compared in constant time). Unknown or expired: 404; wrong or
   * missing cookie or CSRF token: 403, nothing changes.
   */
  get(id: string, browser: string | undefined, csrf?: string | null): Promise<SignInRequest>;
  /** The teammate says who they are; the owner decides (or an invite code decided already). Once: 409 after. */
  submit(id: string, teammate: string, how: { invited: boolean; preApproved: boolean }): Promise<void>;
  /** The owner's answer. Only a waiting request can be answered (404 otherwise). */
  decide(id: string, approve: boolean): Promise<PendingApproval>;
  /**
   * Ends a request in `status` (its code is about to be issued, or its denial delivered); false when it
   * was not in that status any more: another poll (on any replica) finished it first.
   */
  finish(id: string, status: 'approved' | 'denied'): Promise<boolean>;
  pending(): Promise<PendingApproval[]>;
  /** Open requests of a revoked teammate go too: an approval must not outlive the revocation. */
  dropTeammate(teammate: string): Promise<void>;
}

export const REQUEST_TTL_MS = 10 * 60_000;
export const MAX_REQUESTS = 100;

export const REFUSED = {
  full: () => new SignInRequestError('too many sign-in requests are open; try again in a few minutes', 503),
  unknown: () => new SignInRequestError('this sign-in request is unknown or has expired; start again from your client', 404),
  otherBrowser: () => new SignInRequestError('this sign-in belongs to another browser session', 403),
  csrf: () => new SignInRequestError('the form is stale or forged (CSRF token mismatch); reload the page', 403),
  submitted: () => new SignInRequestError('this sign-in was already submitted', 409),
  notWaiting: (id: string) => new SignInRequestError(`no sign-in request "${id}" is waiting for approval`, 404),
};

/** A fresh request with its public id, CSRF token and browser secret. */
export function newSignInRequest(authorization: AuthorizationRequest, now: number, ttlMs: number): OpenedSignInRequest {
  return {
    id: randomBytes(6).toString('hex'),
    csrf: randomBytes(24).toString('base64url'),
    browser: randomBytes(24).toString('base64url'),
    authorization,
    openedAt: now,
    expiresAt: now + ttlMs,
    status: 'form',
    teammate: null,
    invited: false,
    submittedAt: null,
  };
}

/** The CSRF check of a form post (`csrf` undefined: not a form post, nothing to check). */
export function checkCsrf(request: SignInRequest, csrf: string | null | undefined): void {
  if (csrf !== undefined && (!csrf || !secretMatches(csrf, request.csrf))) throw REFUSED.csrf();
}

export function toApproval(request: SignInRequest): PendingApproval {
  return {
    id: request.id,
    teammate: request.teammate ?? '',
    client: request.authorization.clientName,
    invited: request.invited,
    requestedAt: request.submittedAt ?? request.openedAt,
    expiresAt: request.expiresAt,
  };
}

type Stored = { -readonly [K in keyof OpenedSignInRequest]: OpenedSignInRequest[K] };

/** One host's requests, in memory. */
export class SignInRequests implements SignInRequestStore {
  readonly #requests = new Map<string, Stored>();
  readonly #now: () => number;
  readonly ttlMs: number;
  readonly #max: number;
  onWaiting: (approval: PendingApproval) => void = () => {};

  constructor(options: SignInRequestsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? REQUEST_TTL_MS;
    this.#max = options.maxRequests ?? MAX_REQUESTS;
  }

  async open(authorization: AuthorizationRequest): Promise<OpenedSignInRequest> {
    this.#sweep();
    if (this.#requests.size >= this.#max) throw REFUSED.full();
    const request = newSignInRequest(authorization, this.#now(), this.ttlMs);
    this.#requests.set(request.id, { ...request });
    return request;
  }

  async get(id: string, browser: string | undefined, csrf?: string | null): Promise<SignInRequest> {
    this.#sweep();
    const request = this.#requests.get(id);
    if (!request) throw REFUSED.unknown();
    if (!browser || !secretMatches(browser, request.browser)) throw REFUSED.otherBrowser();
    checkCsrf(request, csrf);
    return snapshot(request);
  }

  async submit(id: string, teammate: string, { invited, preApproved }: { invited: boolean; preApproved: boolean }): Promise<void> {
    this.#sweep();
    const request = this.#requests.get(id);
    if (!request) throw REFUSED.unknown();
    if (request.status !== 'form') throw REFUSED.submitted();
    const now = this.#now();
    Object.assign(request, { teammate, invited, submittedAt: now, expiresAt: now + this.ttlMs, status: preApproved ? 'approved' : 'waiting' });
    if (!preApproved) this.onWaiting(toApproval(request));
  }

  async decide(id: string, approve: boolean): Promise<PendingApproval> {
    this.#sweep();
    const request = this.#requests.get(id);
    if (!request || request.status !== 'waiting') throw REFUSED.notWaiting(id);
    request.status = approve ? 'approved' : 'denied';
    return toApproval(request);
  }

  async finish(id: string, status: 'approved' | 'denied'): Promise<boolean> {
    if (this.#requests.get(id)?.status !== status) return false;
    return this.#requests.delete(id);
  }

  async pending(): Promise<PendingApproval[]> {
    this.#sweep();
    return [...this.#requests.values()].filter((r) => r.status === 'waiting').map(toApproval);
  }

  async dropTeammate(teammate: string): Promise<void> {
    for (const [id, request] of this.#requests) if (request.teammate === teammate) this.#requests.delete(id);
  }

  get size(): number {
    return this.#requests.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, request] of this.#requests) if (request.expiresAt <= now) this.#requests.delete(id);
  }
}

function snapshot(request: Stored): SignInRequest {
  const { browser: _browser, ...rest } = request;
  return { ...rest };
}
