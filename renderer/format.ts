import type { ConnectedVia } from './host-api.ts';

/** How the UI shows numbers, sizes and times. */

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  return `${(ratio * 100).toFixed(ratio < 0.1 && ratio > 0 ? 1 : 0)} %`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** "never", "just now", "5 min ago", "3 h ago", or a date. */
export function formatAgo(at: number | null | undefined, now = Date.now()): string {
  if (!at) return 'never';
  const ms = now - at;
  if (ms < 60_000) return 'just now';
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`;
  return new Date(at).toLocaleDateString();
}

export function formatTime(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A time of day for today; date and time for any other day (the Activity tab spans weeks). */
export function formatWhen(at: number, now = Date.now()): string {
  const when = new Date(at);
  if (when.toDateString() === new Date(now).toDateString()) return formatTime(at);
  const sameYear = when.getFullYear() === new Date(now).getFullYear();
  const day = when.toLocaleDateString([], { month: 'short', day: 'numeric', ...(sameYear ? {} : { year: 'numeric' }) });
  return `${day} ${when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}

/**
 * How a call came in: "token `alice`" / "signed in from Claude Code". The CLI words it the same
 * (server/auth/connected-via.ts describeVia); restated here because the UI is served from renderer/ alone.
 */
export function formatVia(via: ConnectedVia | null | undefined): string {
  if (!via) return '';
  return via.kind === 'token' ? `token \`${via.token}\`` : `signed in from ${via.client}`;
}
