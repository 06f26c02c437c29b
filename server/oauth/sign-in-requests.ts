import { randomBytes } from 'node:crypto';
import { secretMatches } from '../admin/admin-secret.ts';

/**
 * Sign-in requests between the authorize step and the owner's answer. In memory on purpose: a request
 * lives minutes, and a host restart loses only requests the client retries anyway. Bounded in count and
 * in time: a request expires `ttlMs` after it was opened and again after it was submitted.
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

export interface SignInRequest {
  /** Public: in the waiting page's URL and the owner's approval list. */
  readonly id: string;
  /** Form token (CSRF) embedded in the page. */
  readonly csrf: string;
  /** Cookie value binding the request to the browser that opened it. */
  readonly browser: string;
  readonly authorization: AuthorizationRequest;
  readonly openedAt: number;
  expiresAt: number;
  status: SignInStatus;
  teammate: string | null;
  /** The name matched an open invite (shown to the owner; an unknown name can still ask). */
  invited: boolean;
  submittedAt: number | null;
}

/** What the owner sees: no secrets. */
export interface PendingApproval {
  id: string;
  teammate: string;
  client: string;
  invited: boolean;
  requestedAt: number;
  expiresAt: number;
}

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
  /** Live requests at most; beyond it new sign-ins wait (an unknown caller cannot fill memory). */
  maxRequests?: number;
}

export class SignInRequests {
  readonly #requests = new Map<string, SignInRequest>();
  readonly #now: () => number;
  readonly ttlMs: number;
  readonly #max: number;
  /** Called when a request starts waiting for the owner. */
  onWaiting: (approval: PendingApproval) => void = () => {};

  constructor(options: SignInRequestsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#max = options.maxRequests ?? 100;
  }

  open(authorization: AuthorizationRequest): SignInRequest {
    this.#sweep();
    if (this.#requests.size >= this.#max) throw new SignInRequestError('too many sign-in requests are open; try again in a few minutes', 503);
    const now = this.#now();
    const request: SignInRequest = {
      id: randomBytes(6).toString('hex'),
      csrf: randomBytes(24).toString('base64url'),
      browser: randomBytes(24).toString('base64url'),
      authorization,
      openedAt: now,
      expiresAt: now + this.ttlMs,
      status: 'form',
      teammate: null,
      invited: false,
      submittedAt: null,
    };
    this.#requests.set(request.id, request);
    return request;
  }

  /**
   * The request `id` if the caller is the browser that opened it: the cookie matches, and for a form
   * post the CSRF token too (both compared in constant time). Wrong or missing: 403, nothing changes.
   */
  get(id: string, browser: string | undefined, csrf?: string | null): SignInRequest {
    this.#sweep();
    const request = this.#requests.get(id);
    if (!request) throw new SignInRequestError('this sign-in request is unknown or has expired; start again from your client', 404);
    if (!browser || !secretMatches(browser, request.browser)) throw new SignInRequestError('this sign-in belongs to another browser session', 403);
    if (csrf !== undefined && (!csrf || !secretMatches(csrf, request.csrf))) throw new SignInRequestError('the form is stale or forged (CSRF token mismatch); reload the page', 403);
    return request;
  }

  /** The teammate says who they are; the owner decides (or an invite code decided already). */
  submit(request: SignInRequest, teammate: string, { invited, preApproved }: { invited: boolean; preApproved: boolean }): void {
    if (request.status !== 'form') throw new SignInRequestError('this sign-in was already submitted', 409);
    const now = this.#now();
    request.teammate = teammate;
    request.invited = invited;
    request.submittedAt = now;
    request.expiresAt = now + this.ttlMs;
    request.status = preApproved ? 'approved' : 'waiting';
    if (!preApproved) this.onWaiting(toApproval(request));
  }

  /** The owner's answer. Only a waiting request can be answered. */
  decide(id: string, approve: boolean): PendingApproval {
    this.#sweep();
    const request = this.#requests.get(id);
    if (!request || request.status !== 'waiting') throw new SignInRequestError(`no sign-in request "${id}" is waiting for approval`, 404);
    request.status = approve ? 'approved' : 'denied';
    return toApproval(request);
  }

  /** Ends a request (its code was issued, or its denial delivered). */
  finish(id: string): void {
    this.#requests.delete(id);
  }

  pending(): PendingApproval[] {
    this.#sweep();
    return [...this.#requests.values()].filter((r) => r.status === 'waiting').map(toApproval);
  }

  /** Open requests of a revoked teammate go too: an approval must not outlive the revocation. */
  dropTeammate(teammate: string): void {
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

function toApproval(request: SignInRequest): PendingApproval {
  return {
    id: request.id,
    teammate: request.teammate ?? '',
    client: request.authorization.clientName,
    invited: request.invited,
    requestedAt: request.submittedAt ?? request.openedAt,
    expiresAt: request.expiresAt,
  };
}
