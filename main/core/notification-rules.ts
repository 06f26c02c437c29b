/**
 * Which native notifications a change deserves (issue 9): health turning red and recovering from red,
 * a teammate's first connection, a new public URL, a sign-in waiting for the owner (issue 18). A pure function of two observations so it is tested
 * under Node; the health watcher (health-watcher.ts) applies it and the tray app and `harbor serve` show what it
 * returns. The first observation after launch announces nothing
 * but a red state, so restarting the app does not replay old news.
 */
export interface Observation {
  health: { state: 'green' | 'amber' | 'red'; reasons: string[] } | null;
  /** Null when the teammate list could not be read this time. */
  teammates: Array<{ name: string; lastUsedAt: number | null; revokedAt: number | null }> | null;
  publicUrl: string | null;
  /** Sign-ins waiting for the owner; null or absent when they could not be read (or sign-in is off). */
  approvals?: Array<{ id: string; teammate: string; client: string; invited: boolean }> | null;
}

export interface NotificationSpec {
  kind: 'health-red' | 'health-recovered' | 'teammate-first-connection' | 'public-url' | 'wants-to-connect';
  title: string;
  body: string;
  /** The sign-in request a 'wants-to-connect' is about (the tray's Approve / Deny act on it). */
  approvalId?: string;
  /** Who asks, from which client ('wants-to-connect'): for a surface that words it its own way (`harbor serve`). */
  signIn?: { teammate: string; client: string; invited: boolean };
}

export function notificationsBetween(previous: Observation | null, next: Observation): NotificationSpec[] {
  const out: NotificationSpec[] = [];
  const before = previous?.health?.state ?? null;
  const now = next.health?.state ?? null;
  if (now === 'red' && before !== 'red') {
    out.push({ kind: 'health-red', title: 'Harbor is down', body: next.health!.reasons[0] ?? 'Open Harbor for details.' });
  } else if (before === 'red' && now !== null && now !== 'red') {
    out.push({
      kind: 'health-recovered',
      title: 'Harbor recovered',
      body: now === 'green' ? 'Everything is running again.' : `Running, with a warning: ${next.health!.reasons[0] ?? ''}`.trim(),
    });
  }

  if (previous?.teammates && next.teammates) {
    const seen = new Map(previous.teammates.map((t) => [t.name, t.lastUsedAt]));
    for (const teammate of next.teammates) {
      if (teammate.revokedAt !== null || teammate.lastUsedAt === null) continue;
      // Known before and never used until now; a teammate added and used between two polls counts too.
      if (!seen.has(teammate.name) || seen.get(teammate.name) === null) {
        out.push({ kind: 'teammate-first-connection', title: `${teammate.name} connected`, body: `${teammate.name} used Harbor for the first time.` });
      }
    }
  }

  out.push(...newApprovals(previous, next));

  if (previous && next.publicUrl && next.publicUrl !== previous.publicUrl) {
    out.push({
      kind: 'public-url',
      title: previous.publicUrl ? 'New public URL' : 'Harbor is shared',
      body: previous.publicUrl ? `${next.publicUrl} — teammates need the new URL.` : next.publicUrl,
    });
  }
  return out;
}

/**
 * Each sign-in that started waiting since the last observation, once. Unlike the other news this one is
 * announced at launch too: a waiting request expires within minutes and nobody gets in until the owner
 * answers, so it is never old news.
 */
function newApprovals(previous: Observation | null, next: Observation): NotificationSpec[] {
  if (!next.approvals) return [];
  const known = new Set((previous?.approvals ?? []).map((a) => a.id));
  return next.approvals
    .filter((approval) => !known.has(approval.id))
    .map((approval) => ({
      kind: 'wants-to-connect' as const,
      title: `${approval.teammate} wants to connect`,
      // True on every platform: a click opens the Team tab everywhere; the buttons (macOS, Windows, and
      // Deny alone for someone not invited: notification-actions.ts) are a shortcut the OS may or may not show.
      body: `${approval.teammate} wants to connect from ${approval.client}${approval.invited ? '' : ' (not invited)'}. Click to approve or deny in the Team tab.`,
      approvalId: approval.id,
      signIn: { teammate: approval.teammate, client: approval.client, invited: approval.invited },
    }));
}
