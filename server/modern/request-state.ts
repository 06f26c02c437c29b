import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Harbor's `requestState`: which pending upstream call an `input_required` answer belongs to, for
 * whom, and until when. Signed with HMAC-SHA256, not encrypted: the client may decode it and will
 * see only its own teammate name, the server name and ids (mrtr "Security Considerations": the state
 * is attacker-controlled input, so integrity is what matters). Format: base64url(JSON).base64url(MAC).
 */
export interface StateClaims {
  /** Pending call id in the PendingCalls table. */
  call: string;
  /** Round of that call the state was minted for; a state from an earlier round is stale. */
  round: number;
  teammate: string;
  server: string;
  /** Digest of the originating request (method + name/uri): the state is refused on any other request. */
  request: string;
  /** Expiry, milliseconds on the injected clock. */
  expiresAt: number;
  /**
   * The replica holding the parked call (HARBOR_REPLICA), when Harbor runs as replicas: a retry that
   * lands elsewhere is forwarded to it (continuation-forward.ts). Absent on a single host.
   */
  replica?: string;
}

export type StateVerdict =
  | { ok: true; claims: StateClaims }
  | { ok: false; reason: 'malformed' | 'tampered' | 'expired' | 'wrong-teammate' | 'wrong-request'; message: string };

export interface RequestStateCodecOptions {
  /** At least 32 random bytes; one per Harbor process (or shared by replicas that share pending calls). */
  secret: Buffer;
  now?: () => number;
}

/** Digest naming a request: its method and the name or uri it targets. */
export function requestDigest(method: string, params: Record<string, unknown> | undefined): string {
  const target = String(params?.name ?? params?.uri ?? '');
  return createHash('sha256').update(method).update('\0').update(target).digest('base64url').slice(0, 22);
}

export class RequestStateCodec {
  readonly #secret: Buffer;
  readonly #now: () => number;

  constructor(options: RequestStateCodecOptions) {
    if (options.secret.length < 32) throw new Error('requestState secret must be at least 32 bytes');
    this.#secret = options.secret;
    this.#now = options.now ?? Date.now;
  }

  mint(claims: StateClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.#mac(body)}`;
  }

  /** Checks integrity first (so nothing of a forged state is believed), then expiry and binding. */
  verify(state: unknown, expected: { teammate: string; request: string }): StateVerdict {
    if (typeof state !== 'string' || state.length > 4096) return refuse('malformed', 'requestState is not one Harbor issued');
    const dot = state.indexOf('.');
    if (dot <= 0 || dot !== state.lastIndexOf('.')) return refuse('malformed', 'requestState is not one Harbor issued');
    const body = state.slice(0, dot);
    const given = Buffer.from(state.slice(dot + 1), 'base64url');
    const wanted = Buffer.from(this.#mac(body), 'base64url');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      return refuse('tampered', 'requestState failed its integrity check (modified, or issued by another Harbor)');
    }
    let claims: StateClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StateClaims;
    } catch {
      return refuse('malformed', 'requestState is not one Harbor issued');
    }
    if (this.#now() >= claims.expiresAt) return refuse('expired', 'requestState has expired: the pending input was not provided in time; call again');
    if (claims.teammate !== expected.teammate) return refuse('wrong-teammate', 'requestState was issued to another caller');
    if (claims.request !== expected.request) return refuse('wrong-request', 'requestState belongs to a different request (method or name differs)');
    return { ok: true, claims };
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#secret).update(body).digest('base64url');
  }
}

function refuse(reason: Exclude<StateVerdict, { ok: true }>['reason'], message: string): StateVerdict {
  return { ok: false, reason, message };
}
