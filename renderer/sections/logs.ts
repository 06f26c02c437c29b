import { emptyState, errorLine, h, replace } from '../dom.ts';
import { formatWhen } from '../format.ts';
import { isMissingEndpoint, type HostStatus } from '../host-api.ts';
import type { Section, SectionContext } from '../section.ts';

const LINES = 200;

export function logsSection(context: SectionContext): Section {
  const picker = h('select', { id: 'log-process' }, h('option', { value: 'host' }, 'host'));
  const output = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Log lines, oldest first' });
  picker.addEventListener('change', () => void load());

  function syncProcesses(status: HostStatus | null): void {
    const wanted = ['host', ...(status?.servers.filter((s) => s.upstreams.some((u) => u.process)).map((s) => s.name) ?? [])];
    if (status?.share && status.share.state !== 'off') wanted.push('cloudflared');
    const have = [...picker.options].map((o) => o.value);
    if (have.join('\n') === wanted.join('\n')) return;
    const selected = picker.value;
    picker.replaceChildren(...wanted.map((name) => h('option', { value: name }, name)));
    if (wanted.includes(selected)) picker.value = selected;
  }

  async function load(): Promise<void> {
    try {
      const lines = await context.api.logs(picker.value, LINES);
      const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
      if (!lines.length) replace(output, 'No output yet.');
      // A pooled server's copies share one view: each line says which copy wrote it.
      else replace(output, lines.map((l) => `${formatWhen(l.at)} ${l.stream === 'stderr' ? '!' : ' '} ${l.copy !== undefined ? `[copy ${l.copy}] ` : ''}${l.line}`).join('\n'));
      if (atBottom) output.scrollTop = output.scrollHeight;
    } catch (error) {
      replace(output, isMissingEndpoint(error) ? emptyState('This host does not serve logs yet.') : errorLine((error as Error).message));
    }
  }

  const panel = h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Logs'),
    h('div', { class: 'inline' }, h('label', { for: 'log-process' }, 'Process'), picker),
    output,
  );
  return {
    id: 'logs',
    label: 'Logs',
    panel,
    async refresh(status) {
      syncProcesses(status);
      await load();
    },
  };
}
