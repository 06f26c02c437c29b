import type { LiveSignIn, Teammate, TeammateConnection } from '../host-api.ts';

/** A teammate's row: their token (if any) and the ways they connected, newest first. */
export interface TeamRow {
  teammate: Pick<Teammate, 'name' | 'lastUsedAt' | 'calls' | 'scope' | 'expiresAt'>;
  connections: TeammateConnection[];
}

export interface TeamView {
  rows: TeamRow[];
  /** Token holders revoked (kept by the token store, shown as a count only). */
  revoked: number;
  /** Teammates the audit log knows from sign-ins none of which is live any more (revoked, or unused past the refresh token's life). */
  signedOut: number;
}

/**
 * Only the ways in that still work: active token holders, then teammates with a live sign-in and no
 * static token (last seen and calls summed over their sign-ins in the audit log). A sign-in way of the
 * log is shown only while the teammate has a live sign-in: revoked teammates, and sign-ins ended by
 * their client, leave the list as a revoked token holder does (the Activity tab keeps their calls).
 * Kept off rather than shown as revoked: the host cannot tell a revoked sign-in from one left to
 * expire, and a row with a Revoke button for someone who cannot connect would invite a no-op.
 * Liveness is per teammate, not per client: the log names a client as the request saw it, a grant as
 * it was registered, and the two wordings need not match.
 */
export function teamRows(teammates: readonly Teammate[], connections: readonly TeammateConnection[], signIns: readonly LiveSignIn[]): TeamView {
  const active = teammates.filter((t) => t.revokedAt === null);
  const holders = new Set(active.map((t) => t.name));
  const signedIn = new Set(signIns.map((s) => s.teammate));
  const live = (c: TeammateConnection) => (c.via.kind === 'token' ? holders.has(c.teammate) : signedIn.has(c.teammate));
  const ways = new Map<string, TeammateConnection[]>();
  for (const c of connections) if (live(c)) ways.set(c.teammate, [...(ways.get(c.teammate) ?? []), c]);
  const rows: TeamRow[] = active.map((t) => ({ teammate: t, connections: ways.get(t.name) ?? [] }));
  for (const name of signedIn) {
    if (holders.has(name)) continue;
    const mine = ways.get(name) ?? [];
    const lastUsedAt = mine.length ? Math.max(...mine.map((c) => c.lastAt)) : null;
    rows.push({ teammate: { name, lastUsedAt, calls: mine.reduce((sum, c) => sum + c.calls, 0), scope: null, expiresAt: null }, connections: mine });
  }
  // Revoked token holders are counted by the token store; these are the ones it never knew.
  const tokenNames = new Set(teammates.map((t) => t.name));
  const signedOut = new Set(connections.filter((c) => c.via.kind === 'sign-in' && !signedIn.has(c.teammate) && !tokenNames.has(c.teammate)).map((c) => c.teammate));
  return { rows, revoked: teammates.length - active.length, signedOut: signedOut.size };
}
