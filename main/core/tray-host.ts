import type { HostStatus, ShareStateName } from '../../server/admin/host-api.ts';
import type { AppHome } from './app-home.ts';
import { dashboardUrlAt } from './dashboard-url.ts';

/**
 * Which host the tray app talks to, decided from what it knows: its own HostController's (when it owns
 * the home) or the attached `harbor serve`'s (app-home.ts). Electron-free so it is tested under Node;
 * main/shell/ applies the answers (relaunch, a new admin API client, the dashboard in the browser).
 */

/** A running host's address and admin secret. */
export interface HostLink {
  url: string;
  secret: string;
}

/**
 * What a fresh look at the home means for an app that does not own it: the other Harbor is gone, so
 * start over as the owner ('own'); it now says where it listens, or somewhere new ('attach'); or nothing
 * to do ('same': still attached to the same host, or still waiting).
 */
export type HomeChange = { kind: 'own' } | { kind: 'attach'; link: HostLink } | { kind: 'same' };

export function homeChange(previous: AppHome, next: AppHome): HomeChange {
  if (next.mode === 'own') return { kind: 'own' };
  if (next.mode !== 'attached') return { kind: 'same' };
  const same = previous.mode === 'attached' && previous.url === next.url && previous.secret === next.secret;
  return same ? { kind: 'same' } : { kind: 'attach', link: { url: next.url, secret: next.secret } };
}

/** The host's link: this app's own host once it listens (url null before), else the attached one's. */
export function hostLink(own: { url: string | null; adminSecret: string } | null, home: AppHome): HostLink | null {
  if (own) return own.url ? { url: own.url, secret: own.adminSecret } : null;
  return home.mode === 'attached' ? { url: home.url, secret: home.secret } : null;
}

/**
 * The browser dashboard of the linked host. The secret rides in the fragment, which stays in the browser
 * (never sent to the host); the page moves it to sessionStorage. The link's own URL is kept, as the tray
 * always did (the CLI builds it from the port: both through dashboard-url.ts).
 */
export function dashboardLinkUrl(link: HostLink): string {
  return dashboardUrlAt(link.url, link.secret);
}

/** Whether the team share is on: the own controller's share state, or the attached host's last status ('off' when unknown). */
export function isSharing(ownShare: ShareStateName | null, lastStatus: HostStatus | null): boolean {
  return (ownShare ?? lastStatus?.share?.state ?? 'off') !== 'off';
}

/** The first line of an error message, for a tray tooltip or a notification body. */
export function firstLine(message: string): string {
  return message.split('\n')[0]!;
}
