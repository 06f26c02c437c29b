import { emptyState, errorLine, gridTable, h, replace } from '../dom.ts';
import { formatMs, formatTime } from '../format.ts';
import { isMissingEndpoint, type ActivityEntry } from '../host-api.ts';
import type { Section, SectionContext } from '../section.ts';

const LIMIT = 100;

export function activitySection(context: SectionContext): Section {
  const filter = h('select', { id: 'activity-teammate' }, h('option', { value: '' }, 'Everyone'));
  const body = h('div', { class: 'activity-list' });
  filter.addEventListener('change', () => void load());

  function render(entries: ActivityEntry[]): void {
    const names = new Set([...filter.options].map((o) => o.value));
    for (const entry of entries) if (!names.has(entry.teammate)) {
      names.add(entry.teammate);
      filter.append(h('option', { value: entry.teammate }, entry.teammate));
    }
    if (!entries.length) {
      replace(body, emptyState('No calls yet.'));
      return;
    }
    replace(
      body,
      gridTable('Recent calls, newest first', ['Time', 'Teammate', 'Call', 'Duration', 'Result'], entries.map((e) =>
        h(
          'tr',
          {},
          h('td', {}, formatTime(e.at)),
          h('th', { scope: 'row' }, e.teammate),
          h('td', {}, `${e.server} `, h('code', {}, e.tool ?? e.method)),
          h('td', { class: 'num' }, formatMs(e.durationMs)),
          h('td', {}, e.ok ? h('span', { class: 'badge badge-online' }, 'ok') : h('span', { class: 'badge badge-errored', title: e.error ?? '' }, e.error ?? 'error')),
        ),
      )),
    );
  }

  async function load(): Promise<void> {
    try {
      render(await context.api.activity({ limit: LIMIT, ...(filter.value ? { teammate: filter.value } : {}) }));
    } catch (error) {
      replace(body, isMissingEndpoint(error) ? emptyState('This host does not record activity yet.') : errorLine((error as Error).message));
    }
  }

  const panel = h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Activity'),
    h('div', { class: 'inline' }, h('label', { for: 'activity-teammate' }, 'Teammate'), filter),
    body,
  );
  return { id: 'activity', label: 'Activity', panel, refresh: () => load() };
}
