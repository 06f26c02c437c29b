import type uPlot from 'uplot';
import type { HistorySeries } from './host-api.ts';

/**
 * Small line charts of the last hour (uPlot, loaded on first use from /app/vendor/). One line per label,
 * on a shared time axis; buckets missing for a label are gaps.
 */

type UPlotModule = { default: typeof uPlot };
let loading: Promise<typeof uPlot> | null = null;

function loadUPlot(): Promise<typeof uPlot> {
  // A computed specifier: served by the host from node_modules/uplot, not resolved by any bundler.
  const url = new URL('./vendor/uplot.js', import.meta.url).href;
  loading ??= (import(url) as Promise<UPlotModule>).then((m) => m.default);
  return loading;
}

/** Labels drawn per chart; the rest would be unreadable at this size. */
const MAX_LINES = 4;

/** Aligns series on the union of their timestamps (seconds, as uPlot wants). */
export function alignSeries(series: HistorySeries[]): { data: uPlot.AlignedData; labels: string[] } {
  const shown = series.slice(0, MAX_LINES);
  const times = [...new Set(shown.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = shown.map((s) => {
    const column: Array<number | null> = times.map(() => null);
    for (const point of s.points) column[index.get(point.t)!] = point.value;
    return column;
  });
  return { data: [times.map((t) => t / 1000), ...columns] as uPlot.AlignedData, labels: shown.map((s) => s.label || 'all') };
}

function emptyNote(): HTMLElement {
  return Object.assign(document.createElement('span'), { className: 'chart-empty', textContent: 'no history yet' });
}

/**
 * The colours a canvas needs as values: the stylesheet's custom properties for the current scheme
 * (light or dark), read when a chart is built; a scheme change rebuilds it (see `shape` below).
 */
function themeColours(): { text: string; grid: string; lines: string[] } {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    text: read('--muted', '#57606a'),
    grid: read('--border', '#d0d7de'),
    lines: [1, 2, 3, 4].map((n, i) => read(`--chart-${n}`, ['#1f6feb', '#b35900', '#8250df', '#1a7f37'][i]!)),
  };
}

const darkScheme = (): boolean => typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;

/** A time axis and a value axis in the chart's own units, small enough for a tile. */
function axes(format: (value: number) => string, colours: { text: string; grid: string }): uPlot.Axis[] {
  const common = { stroke: colours.text, font: '10px system-ui, sans-serif', grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid, width: 1, size: 3 } };
  return [
    { ...common, space: 56, size: 24, values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })) },
    { ...common, space: 22, size: 46, values: (_u, splits) => splits.map((v) => format(v)) },
  ];
}

export interface Sparkline {
  element: HTMLElement;
  update(series: HistorySeries[]): Promise<void>;
}

export function createSparkline(title: string, format: (value: number) => string): Sparkline {
  const element = document.createElement('div');
  element.className = 'chart';
  element.setAttribute('role', 'img');
  element.setAttribute('aria-label', `${title}: no history yet`);
  element.append(emptyNote());
  let plot: uPlot | null = null;
  let shape = '';

  return {
    element,
    async update(series) {
      const { data, labels } = alignSeries(series);
      const points = data[0].length;
      element.dataset.points = String(points);
      if (points === 0) {
        plot?.destroy();
        plot = null;
        shape = '';
        element.replaceChildren(emptyNote());
        element.setAttribute('aria-label', `${title}: no history yet`);
        return;
      }
      const last = series[0]?.points.at(-1)?.value;
      element.setAttribute('aria-label', `${title}, last hour, ${labels.join(', ')}${last !== undefined ? `; latest ${format(last)}` : ''}`);
      const UPlot = await loadUPlot();
      const width = Math.max(140, Math.floor(element.clientWidth || 160));
      const nextShape = `${labels.join('\n')}|${points < 3}|${width}|${darkScheme()}`;
      if (plot && shape === nextShape) {
        plot.setData(data);
        return;
      }
      plot?.destroy();
      element.replaceChildren();
      shape = nextShape;
      const colours = themeColours();
      plot = new UPlot(
        {
          width,
          height: 110,
          pxAlign: false,
          cursor: { show: false },
          // The legend names each line (uPlot's own, without live values: the tile shows the latest).
          legend: { show: true, live: false },
          scales: { x: { time: true } },
          axes: axes(format, colours),
          // A lone point draws no line: show points until there are enough to see a trend.
          series: [
            { label: 'time' },
            ...labels.map((label, i) => ({ label, stroke: colours.lines[i % colours.lines.length], width: 1.5, spanGaps: false, points: { show: points < 3, size: 5 } })),
          ],
        },
        data,
        element,
      );
    },
  };
}
