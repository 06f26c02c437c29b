import { createSparkline, type Sparkline } from '../charts.ts';
import { emptyState, errorLine, h, replace } from '../dom.ts';
import { formatBytes, formatDuration, formatMs, formatPercent } from '../format.ts';
import { isMissingEndpoint, type HealthState, type HostStatus, type MetricsResponse } from '../host-api.ts';
import type { Section, SectionContext } from '../section.ts';

export const HEALTH_LABELS: Record<HealthState, string> = { green: 'Healthy', amber: 'Needs attention', red: 'Down' };

interface Tile {
  metric: string;
  title: string;
  format: (value: number) => string;
  current: (m: MetricsResponse) => number | null;
  detail: (m: MetricsResponse) => string;
}

function maxOf(values: Array<number | null | undefined>): number | null {
  const numbers = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return numbers.length ? Math.max(...numbers) : null;
}
function minOf(values: Array<number | null | undefined>): number | null {
  const numbers = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return numbers.length ? Math.min(...numbers) : null;
}

/** The six metrics of DESIGN.md section 7, each with its history metric name. */
const TILES: Tile[] = [
  {
    metric: 'latency_p95_ms',
    title: 'p95 latency',
    format: formatMs,
    current: (m) => maxOf(Object.values(m.latency).map((l) => l.p95)),
    detail: (m) => `${Object.keys(m.latency).length} endpoints · alert > 2 s`,
  },
  {
    metric: 'error_rate',
    title: 'Error rate',
    format: formatPercent,
    current: (m) => m.errorRate,
    detail: (m) => `${m.errors.errors} of ${m.errors.requests} requests · alert > 5 %`,
  },
  {
    metric: 'memory_ratio',
    title: 'Memory of limit',
    format: formatPercent,
    current: (m) => maxOf(m.memory.map((p) => p.ratio)),
    detail: (m) => m.memory.map((p) => `${p.process} ${formatBytes(p.rssBytes)}`).join(' · ') || 'no processes',
  },
  {
    metric: 'cache_hit_ratio',
    title: 'Cache hit ratio',
    format: formatPercent,
    current: (m) => minOf(Object.values(m.cacheHitRatio)),
    detail: (m) => `${Object.keys(m.cacheHitRatio).length} caches · alert < 70 %`,
  },
  {
    metric: 'open_connections',
    title: 'Open sessions',
    format: (v) => String(Math.round(v)),
    current: (m) => m.connections.sessions,
    detail: (m) => `${m.connections.sockets} sockets · ${m.connections.streams} streams · trend ${m.connections.trend}`,
  },
  {
    metric: 'ratelimit_remaining_ratio',
    title: 'Rate limit left',
    format: formatPercent,
    current: (m) => m.rateLimitRemaining,
    detail: () => 'lowest across upstream APIs · alert < 10 %',
  },
];

const HISTORY_EVERY_MS = 30_000;
const HOUR_MS = 60 * 60_000;

export function healthSection(context: SectionContext): Section {
  const stateBox = h('div', { class: 'health-state' });
  const hostBox = h('dl', { class: 'facts' });
  const alertsBox = h('div', { class: 'alerts' });
  const metricsBox = h('div', { class: 'metrics', 'aria-live': 'off' });
  const panel = h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Health'),
    stateBox,
    hostBox,
    h('h3', {}, 'Metrics'),
    metricsBox,
    alertsBox,
  );
  const charts = new Map<string, { chart: Sparkline; value: HTMLElement; detail: HTMLElement }>();
  let historyAt = 0;

  function renderState(status: HostStatus | null): void {
    if (!status) {
      replace(stateBox, h('p', { class: 'state state-red' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Host not reachable'));
      hostBox.replaceChildren();
      return;
    }
    const health = status.health;
    replace(
      stateBox,
      health
        ? h('p', { class: `state state-${health.state}`, 'data-state': health.state }, h('span', { class: 'dot', 'aria-hidden': 'true' }), HEALTH_LABELS[health.state])
        : h('p', { class: 'state state-unknown' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Health not reported by this host'),
      health && health.reasons.length ? h('ul', { class: 'reasons' }, ...health.reasons.map((r) => h('li', {}, r))) : null,
    );
    replace(
      hostBox,
      h('dt', {}, 'Version'), h('dd', {}, status.version),
      h('dt', {}, 'Up'), h('dd', {}, formatDuration(status.host.uptimeSeconds * 1000)),
      h('dt', {}, 'Memory'), h('dd', {}, formatBytes(status.host.rssBytes)),
      h('dt', {}, 'Sessions'), h('dd', {}, String(status.sessions)),
      h('dt', {}, 'Address'), h('dd', {}, status.host.publicUrl ?? status.host.url),
    );
  }

  function ensureTiles(): void {
    if (charts.size) return;
    for (const tile of TILES) {
      const chart = createSparkline(tile.title, tile.format);
      const value = h('span', { class: 'value' }, '–');
      const detail = h('span', { class: 'detail' });
      charts.set(tile.metric, { chart, value, detail });
      metricsBox.append(h('figure', { class: 'tile', 'data-metric': tile.metric }, h('figcaption', {}, tile.title, value), chart.element, detail));
    }
  }

  async function renderMetrics(): Promise<void> {
    let metrics: MetricsResponse;
    try {
      metrics = await context.api.metrics();
    } catch (error) {
      charts.clear();
      alertsBox.replaceChildren();
      replace(metricsBox, isMissingEndpoint(error) ? emptyState('This host does not report metrics yet.') : errorLine(`Metrics: ${(error as Error).message}`));
      return;
    }
    ensureTiles();
    for (const tile of TILES) {
      const entry = charts.get(tile.metric)!;
      const current = tile.current(metrics);
      entry.value.textContent = current === null ? '–' : tile.format(current);
      entry.detail.textContent = tile.detail(metrics);
    }
    const active = metrics.alerts.filter((a) => a.state === 'firing' || a.state === 'pending');
    replace(
      alertsBox,
      active.length
        ? h('ul', { class: 'alert-list', 'aria-label': 'Alerts' }, ...active.map((a) => h('li', { class: `alert alert-${a.state}` }, h('strong', {}, a.state === 'firing' ? 'Firing' : 'Pending'), ' ', a.message)))
        : null,
    );
    if (Date.now() - historyAt >= HISTORY_EVERY_MS) {
      historyAt = Date.now();
      await renderHistory();
    }
  }

  async function renderHistory(): Promise<void> {
    const since = Date.now() - HOUR_MS;
    await Promise.all(
      TILES.map(async (tile) => {
        const entry = charts.get(tile.metric);
        if (!entry) return;
        try {
          await entry.chart.update(await context.api.metricsHistory(tile.metric, since));
        } catch {
          await entry.chart.update([]);
        }
      }),
    );
  }

  return {
    id: 'health',
    label: 'Health',
    panel,
    async refresh(status) {
      renderState(status);
      if (status) await renderMetrics();
    },
  };
}
