/**
 * How a caller proved who they are, recorded with each audited call and shown per teammate (Team tab,
 * Activity, `harbor activity`). Never a secret: a static token is named by its label (the teammate
 * name it was issued to), a sign-in by the client's self-declared name (its registration).
 */
export type ConnectedVia = { kind: 'token'; token: string } | { kind: 'sign-in'; client: string };

export const VIA_KINDS = ['token', 'sign-in'] as const;

/** The two stored columns (audit_log via_kind, via_name) back to the shape; null for rows written before them. */
export function viaFromColumns(kind: string | null, name: string | null): ConnectedVia | null {
  if (kind === 'token') return { kind, token: name ?? '' };
  if (kind === 'sign-in') return { kind, client: name ?? '' };
  return null;
}

export function viaName(via: ConnectedVia): string {
  return via.kind === 'token' ? via.token : via.client;
}

/** "token `alice`" / "signed in from Claude Code" (the app's renderer/format.ts formatVia words it the same); `absent` for rows from before. */
export function describeVia(via: ConnectedVia | null | undefined, absent = '-'): string {
  if (!via) return absent;
  return via.kind === 'token' ? `token \`${via.token}\`` : `signed in from ${via.client}`;
}
