import { forgetDashboardSecret, takeDashboardSecret } from './dashboard-secret.ts';
import { h, replace } from './dom.ts';
import { HostApiError, HttpHostApi, IpcHostApi, type HostApi, type HostStatus } from './host-api.ts';
import type { Section, SectionContext } from './section.ts';
import { activitySection } from './sections/activity.ts';
import { HEALTH_LABELS, healthSection } from './sections/health.ts';
import { logsSection } from './sections/logs.ts';
import { serversSection } from './sections/servers.ts';
import { shareSection } from './sections/share.ts';
import { teamSection } from './sections/team.ts';
import { createTablist } from './tablist.ts';

/** The popover (Electron, over IPC) and the browser dashboard (over HTTP): one UI, two HostApi adapters. */

const POLL_MS = 3000;

function chooseApi(): HostApi | null {
  const bridge = IpcHostApi.bridge();
  if (bridge) return new IpcHostApi(bridge);
  const secret = takeDashboardSecret(location, history, sessionStorage);
  return secret ? new HttpHostApi({ baseUrl: '', secret }) : null;
}

function start(root: HTMLElement): void {
  const api = chooseApi();
  const live = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const badge = h('p', { class: 'badge-health', 'data-state': 'unknown' }, 'Connecting…');
  const header = h('header', { class: 'top' }, h('h1', {}, 'Harbor'), badge);
  if (!api) {
    replace(
      root,
      header,
      h(
        'main',
        { class: 'panel' },
        h('h2', {}, 'Sign-in link needed'),
        h('p', {}, 'Open the dashboard with `harbor dashboard` (or the link `harbor status` prints), or from the Harbor app menu (Open dashboard). The link carries a one-session key.'),
      ),
    );
    return;
  }
  const context: SectionContext = {
    api,
    announce(message) {
      live.textContent = message;
    },
  };
  const sections: Section[] = [
    healthSection(context),
    serversSection(context),
    teamSection(context),
    shareSection(context),
    activitySection(context),
    logsSection(context),
  ];
  let status: HostStatus | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;

  const tabs = createTablist('Harbor sections', sections, () => void tick());
  replace(root, header, h('nav', {}, tabs.element), h('main', {}, ...sections.map((s) => s.panel)), live);

  function showStatus(next: HostStatus | null, error?: unknown): void {
    status = next;
    const state = next?.health?.state;
    badge.dataset.state = state ?? (next ? 'unknown' : 'red');
    if (error instanceof HostApiError && error.status === 401) {
      forgetDashboardSecret(sessionStorage);
      badge.textContent = 'Key expired: reopen the dashboard link';
    } else badge.textContent = next ? (state ? HEALTH_LABELS[state] : 'Running') : 'Host not reachable';
    badge.title = next?.health?.reasons.join('\n') ?? '';
  }

  async function tick(): Promise<void> {
    if (running) return;
    running = true;
    if (timer) clearTimeout(timer);
    try {
      try {
        showStatus(await api!.status());
      } catch (error) {
        showStatus(null, error);
      }
      const section = sections.find((s) => s.id === tabs.selected);
      await section?.refresh(status).catch((error: Error) => context.announce(error.message));
    } finally {
      running = false;
      document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? 0) + 1);
      if (document.visibilityState === 'visible') timer = setTimeout(() => void tick(), POLL_MS);
    }
  }

  // A hidden popover polls nothing; it catches up the moment it is shown.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void tick();
    else if (timer) clearTimeout(timer);
  });
  const initial = new URLSearchParams(location.search).get('tab');
  tabs.select(sections.some((s) => s.id === initial) ? initial! : 'health');
}

start(document.getElementById('app')!);
