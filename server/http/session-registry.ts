import type { ClientPeer } from '../gateway/client-peer.ts';
import type { HostedServer } from '../gateway/hosted-server.ts';
import type { Logger } from '../logger.ts';
import { TeammateStreams } from './teammate-streams.ts';

/** What the registry needs of a session, whichever transport it came by. */
export interface HostSession extends ClientPeer {
  readonly id: string;
  readonly teammate: string;
  readonly server: HostedServer;
  readonly transport: 'streamable-http' | 'sse';
  /** Opened through the tunnel rather than from this machine. */
  readonly viaTunnel: boolean;
  lastActivity: number;
  readonly openStreams: number;
  /** Requests waiting for their answer; absent where an open stream already marks the session busy. */
  readonly inFlight?: number;
  close(): void;
}

/**
 * Live sessions by id. The SDK's transports only learn of a session's end on DELETE, and most clients
 * never send one, so idle sessions are reaped on a TTL sweep; reaping releases their upstream share.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, HostSession>();
  readonly #ttlMs: number;
  readonly #log: Logger;
  #sweep: NodeJS.Timeout | null = null;
  /** The 2026-07-28 era's open streams: no session holds them, revocation ends them with the sessions. */
  readonly streams = new TeammateStreams();
  onClosed: (session: HostSession, reason: string) => void = () => {};
  /** Ends what else a revoked teammate holds outside sessions (the 2026-07-28 era's parked calls); returns how many. */
  onTeammateEnded: (teammate: string, reason: string) => number = () => 0;

  constructor(options: { ttlMs: number; log: Logger }) {
    this.#ttlMs = options.ttlMs;
    this.#log = options.log;
  }

  start(): void {
    const every = Math.max(50, Math.min(this.#ttlMs / 4, 60_000));
    this.#sweep = setInterval(() => this.reap(), every);
    this.#sweep.unref();
  }

  add(session: HostSession): void {
    this.#sessions.set(session.id, session);
  }

  get(id: string): HostSession | undefined {
    return this.#sessions.get(id);
  }

  /** Sessions opened through the tunnel, for the share state. */
  get viaTunnel(): number {
    let n = 0;
    for (const session of this.#sessions.values()) if (session.viaTunnel) n++;
    return n;
  }

  get size(): number {
    return this.#sessions.size;
  }

  all(): IterableIterator<HostSession> {
    return this.#sessions.values();
  }

  async end(id: string, reason: string): Promise<boolean> {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    session.close();
    await session.server.closeSession(session);
    this.#log.info({ session: id, teammate: session.teammate, server: session.server.name, reason }, 'session ended');
    this.onClosed(session, reason);
    return true;
  }

  /**
   * Ends every session of a teammate (revocation): their open streams close at once, the 2026-07-28
   * era's too, and its calls parked between input_required rounds. Returns how many of each ended.
   */
  async endTeammate(teammate: string, reason: string): Promise<number> {
    const ids = [...this.#sessions.values()].filter((s) => s.teammate === teammate).map((s) => s.id);
    const streams = this.streams.end(teammate);
    const parked = this.onTeammateEnded(teammate, reason);
    if (streams + parked > 0) this.#log.info({ teammate, streams, parked, reason }, 'modern streams and parked calls ended');
    await Promise.all(ids.map((id) => this.end(id, reason)));
    return ids.length + streams + parked;
  }

  /** Ends sessions idle longer than the TTL. A session with an open stream is not idle. */
  reap(now = Date.now()): void {
    for (const session of [...this.#sessions.values()]) {
      if (session.openStreams > 0) {
        session.lastActivity = now;
        continue;
      }
      if (now - session.lastActivity > this.#ttlMs) void this.end(session.id, 'idle');
    }
  }

  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.end(id, reason)));
    if (this.#sweep) clearInterval(this.#sweep);
  }
}
