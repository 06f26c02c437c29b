import { splitCommandLine } from '../command-line.ts';
import { parseEnvLines } from '../env-lines.ts';
import { confirmAction } from '../confirm-dialog.ts';
import { emptyState, errorLine, gridTable, h, replace } from '../dom.ts';
import { formatBytes } from '../format.ts';
import { isMissingEndpoint, type HostedServerStatus, type HostStatus, type ServerMode } from '../host-api.ts';
import type { Section, SectionContext } from '../section.ts';
import { callsSummary } from './server-calls.ts';

/** The state to show for a hosted server: its shared upstream's supervisor state, or a summary. */
export function serverState(server: HostedServerStatus): string {
  const processes = server.upstreams.map((u) => u.process).filter((p) => p !== null);
  if (processes.length === 1) return processes[0]!.state;
  if (server.upstreams.length === 0) return server.mode === 'isolated' ? 'idle' : 'not started';
  if (processes.length === 0) return server.upstreams.every((u) => u.up) ? 'online' : 'down';
  const online = processes.filter((p) => p.state === 'online').length;
  return `${online}/${processes.length} online`;
}

export function serversSection(context: SectionContext): Section {
  const list = h('div', { class: 'server-list' });
  const message = h('div', { 'aria-live': 'polite' });
  const docsBox = h('div', { class: 'docs-box' });

  const nameInput = h('input', { id: 'server-name', name: 'name', required: true, pattern: '[A-Za-z0-9_.\\-]{1,100}', autocomplete: 'off', spellcheck: 'false' });
  const commandInput = h('input', { id: 'server-command', name: 'command', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'npx -y @modelcontextprotocol/server-memory' });
  // Values go to config.json on the host and are never shown back (status carries no env).
  const envInput = h('textarea', { id: 'server-env', name: 'env', rows: 3, autocomplete: 'off', spellcheck: 'false', placeholder: 'GITHUB_TOKEN=ghp_…\nAPI_URL=${API_URL}' });
  const modeSelect = h(
    'select',
    { id: 'server-mode', name: 'mode' },
    h('option', { value: 'shared' }, 'shared: one process for everyone'),
    h('option', { value: 'serial' }, 'serial: one call at a time'),
    h('option', { value: 'isolated' }, 'isolated: one process per session'),
  );
  const form = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'add-server-heading' },
    h('h3', { id: 'add-server-heading' }, 'Add a stdio server'),
    h('label', { for: 'server-name' }, 'Name (used in the URL /<name>/mcp)'),
    nameInput,
    h('label', { for: 'server-command' }, 'Command'),
    commandInput,
    h('label', { for: 'server-env' }, 'Environment (KEY=VALUE, one a line; ${NAME} reads the host\'s environment)'),
    envInput,
    h('label', { for: 'server-mode' }, 'Mode'),
    modeSelect,
    h('button', { type: 'submit', class: 'primary' }, 'Add server'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void addServer();
  });

  async function addServer(): Promise<void> {
    let words: string[];
    try {
      words = splitCommandLine(commandInput.value.trim());
    } catch (error) {
      replace(message, errorLine(`Command: ${(error as Error).message}`));
      return;
    }
    if (!words.length) return;
    const [command, ...args] = words as [string, ...string[]];
    let env: Record<string, string>;
    try {
      env = parseEnvLines(envInput.value);
    } catch (error) {
      replace(message, errorLine(`Environment: ${(error as Error).message}`));
      return;
    }
    try {
      await context.api.addServer({ name: nameInput.value.trim(), command, args, env, mode: modeSelect.value as ServerMode });
      context.announce(`Server ${nameInput.value.trim()} added`);
      form.reset();
      message.replaceChildren();
      await refreshFromHost();
    } catch (error) {
      replace(message, errorLine(isMissingEndpoint(error) ? 'This host cannot add servers from the app yet: edit config.json.' : (error as Error).message));
    }
  }

  async function act(what: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
      context.announce(what);
      message.replaceChildren();
      await refreshFromHost();
    } catch (error) {
      replace(message, errorLine(isMissingEndpoint(error) ? 'This host does not support that yet.' : (error as Error).message));
    }
  }

  async function refreshFromHost(): Promise<void> {
    try {
      render(await context.api.status());
    } catch {
      // The next poll says what is wrong.
    }
  }

  async function chooseDocsFolder(current: string): Promise<void> {
    const picked = await context.api.chooseFolder();
    if (picked) {
      await act(`Docs folder set to ${picked}`, () => context.api.setDocsFolder(picked));
      return;
    }
    // A browser cannot pick a folder on the host's disk: ask for the path.
    const input = h('input', { id: 'docs-folder', value: current, spellcheck: 'false' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const folderForm = h('form', { class: 'inline' }, h('label', { for: 'docs-folder' }, 'Folder path on the host'), input, save);
    folderForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void act(`Docs folder set to ${input.value}`, () => context.api.setDocsFolder(input.value.trim()));
    });
    replace(docsBox, folderForm);
    input.focus();
  }

  function render(status: HostStatus | null): void {
    if (!status) {
      replace(list, emptyState('Host not reachable.'));
      return;
    }
    if (!status.servers.length) replace(list, emptyState('No servers hosted.'));
    else
      replace(
        list,
        gridTable('Hosted servers', ['Server', 'State', 'Restarts', 'Memory', 'Sessions', 'Calls', 'Actions'], status.servers.map((server) => serverRow(server))),
      );
    if (status.docs)
      replace(
        docsBox,
        h('p', {}, 'Team docs folder: ', h('code', {}, status.docs.folder), ` — ${status.docs.documents} documents${status.docs.indexing ? ', indexing…' : ''} `),
        h('button', { type: 'button', onclick: () => void chooseDocsFolder(status.docs!.folder) }, 'Change docs folder…'),
      );
    else docsBox.replaceChildren();
  }

  function serverRow(server: HostedServerStatus) {
    const processes = server.upstreams.map((u) => u.process).filter((p) => p !== null);
    const restarts = processes.reduce((sum, p) => sum + p.restarts, 0);
    const rss = processes.reduce((sum, p) => sum + p.rssBytes, 0);
    const limit = processes[0]?.memoryLimitBytes ?? null;
    const state = processes.length || server.name !== 'docs' ? serverState(server) : 'built in';
    return h(
      'tr',
      { 'data-server': server.name },
      h('th', { scope: 'row' }, server.name, h('span', { class: 'muted' }, ` ${server.mode}`)),
      h('td', {}, h('span', { class: `badge badge-${state.replace(/[^a-z]/g, '')}` }, state)),
      h('td', {}, String(restarts)),
      h('td', {}, rss > 0 ? `${formatBytes(rss)}${limit ? ` / ${formatBytes(limit)}` : ''}` : '–'),
      h('td', {}, String(server.sessions)),
      h('td', {}, callsSummary(server)),
      h(
        'td',
        { class: 'actions' },
        // The built-in docs server runs inside the host: nothing of its own to restart.
        processes.length
          ? h('button', { type: 'button', 'aria-label': `Restart ${server.name}`, onclick: () => void act(`${server.name} restarted`, () => context.api.restartServer(server.name)) }, 'Restart')
          : null,
        server.name === 'docs'
          ? null
          : h('button', {
              type: 'button',
              class: 'danger',
              'aria-label': `Remove ${server.name}`,
              onclick: async () => {
                if (await confirmAction(`Remove ${server.name}? Teammates using it lose access and its entry leaves config.json.`, 'Remove'))
                  await act(`${server.name} removed`, () => context.api.removeServer(server.name));
              },
            }, 'Remove'),
      ),
    );
  }

  const panel = h('section', { class: 'panel' }, h('h2', {}, 'Servers'), list, docsBox, message, form);
  return {
    id: 'servers',
    label: 'Servers',
    panel,
    async refresh(status) {
      render(status);
    },
  };
}
