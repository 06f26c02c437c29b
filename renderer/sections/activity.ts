import { emptyState, errorLine, gridTable, h, replace } from '../dom.ts';
import { formatMs, formatVia, formatWhen } from '../format.ts';
import { isMissingEndpoint, type ActivityEntry } from '../host-api.ts';
import type { Section, SectionContext } from '../section.ts';

const PAGE = 50;

/**
 * The next page's `before`: the oldest shown entry's time + 1 ms, so calls in that same millisecond
 * are not skipped (the admin API pages by time only); those already shown are dropped by id. A page
 * of nothing new (more than a page in one millisecond) moves on to strictly older entries.
 */
export function nextPage(shown: readonly ActivityEntry[], page: readonly ActivityEntry[]): { added: ActivityEntry[]; before: number | null } {
  const ids = new Set(shown.map((e) => e.id));
  const added = page.filter((e) => !ids.has(e.id));
  const oldest = [...shown, ...added].at(-1);
  return { added, before: oldest ? oldest.at + (added.length ? 1 : 0) : null };
}

export function activitySection(context: SectionContext): Section {
  const filter = h('select', { id: 'activity-teammate' }, h('option', { value: '' }, 'Everyone'));
  const body = h('div', { class: 'activity-list' });
  const more = h('button', { type: 'button', class: 'load-more', hidden: true, onclick: () => void loadMore() }, 'Load older calls');
  /** Entries shown, newest first: the latest page (refreshed on each poll) and any older pages loaded. */
  let shown: ActivityEntry[] = [];
  let olderLoaded = false;
  let before: number | null = null;
  filter.addEventListener('change', () => {
    olderLoaded = false;
    void load();
  });

  const query = (extra: { before?: number } = {}) => ({ limit: PAGE, ...(filter.value ? { teammate: filter.value } : {}), ...extra });

  function row(e: ActivityEntry): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-id': e.id },
      h('td', { class: 'when' }, h('time', { datetime: new Date(e.at).toISOString(), title: new Date(e.at).toLocaleString() }, formatWhen(e.at))),
      h('th', { scope: 'row' }, e.teammate),
      // Rows recorded before Harbor noted the way in have none: an empty cell, not a guess.
      h('td', { class: 'via' }, formatVia(e.via)),
      h('td', { class: 'call' }, `${e.server} `, h('code', {}, e.tool ?? e.method)),
      h('td', { class: 'num' }, formatMs(e.durationMs)),
      h(
        'td',
        { class: 'result' },
        e.ok ? h('span', { class: 'badge badge-online' }, 'ok') : h('span', { class: 'badge badge-errored' }, 'error'),
        // The error text itself (the tool's own message, or the JSON-RPC error), clipped by the audit log.
        !e.ok && e.error ? h('span', { class: 'error-text' }, e.error) : null,
      ),
    );
  }

  function render(): void {
    const names = new Set([...filter.options].map((o) => o.value));
    for (const entry of shown) if (!names.has(entry.teammate)) {
      names.add(entry.teammate);
      filter.append(h('option', { value: entry.teammate }, entry.teammate));
    }
    more.hidden = before === null;
    if (!shown.length) {
      replace(body, emptyState('No calls yet.'));
      return;
    }
    replace(body, gridTable('Calls, newest first', ['Time', 'Teammate', 'Connected', 'Call', 'Duration', 'Result'], shown.map(row)));
  }

  async function load(): Promise<void> {
    try {
      const latest = await context.api.activity(query());
      const { added } = nextPage(shown, latest);
      // Keep the older pages the user loaded and put the new calls on top, unless a whole page is new
      // (more calls since the last poll than a page): then start over rather than show a gap.
      if (olderLoaded && added.length < latest.length) {
        shown = [...added, ...shown];
      } else {
        olderLoaded = false;
        shown = latest;
        before = latest.length === PAGE ? nextPage([], latest).before : null;
      }
      render();
    } catch (error) {
      replace(body, isMissingEndpoint(error) ? emptyState('This host does not record activity yet.') : errorLine((error as Error).message));
    }
  }

  async function loadMore(): Promise<void> {
    if (before === null) return;
    more.disabled = true;
    try {
      const page = await context.api.activity(query({ before }));
      const next = nextPage(shown, page);
      shown = [...shown, ...next.added];
      olderLoaded = true;
      before = page.length === PAGE ? next.before : null;
      render();
      context.announce(next.added.length ? `${next.added.length} older calls loaded` : 'No older calls');
    } catch (error) {
      context.announce((error as Error).message);
    } finally {
      more.disabled = false;
    }
  }

  const panel = h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Activity'),
    h('div', { class: 'inline' }, h('label', { for: 'activity-teammate' }, 'Teammate'), filter),
    body,
    more,
  );
  return { id: 'activity', label: 'Activity', panel, refresh: () => load() };
}
