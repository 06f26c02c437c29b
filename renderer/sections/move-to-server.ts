import { errorLine, h, replace } from '../dom.ts';
import type { ExportResult } from '../host-api.ts';
import type { SectionContext } from '../section.ts';

/**
 * "Move to a server…" in the Share tab: `harbor export` run by the app (HostApi.exportBundle) into a
 * folder, then the bundle README's next steps (compose, ECS Fargate, Kubernetes) and its warnings.
 * The Electron popover offers its native folder picker first; a browser cannot pick a folder on the
 * host's disk, so the path is typed.
 */
export function moveToServerPanel(context: SectionContext): HTMLElement {
  const folder = h('input', { id: 'export-folder', spellcheck: 'false', autocomplete: 'off', placeholder: '/home/me/harbor-server (an empty folder)' });
  const withTokens = h('input', { type: 'checkbox', id: 'export-tokens', checked: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Export');
  const form = h(
    'form',
    { class: 'stack', hidden: true, 'aria-label': 'Export a server bundle' },
    h('label', { for: 'export-folder' }, 'Folder on this computer for the bundle'),
    folder,
    h('div', { class: 'choice' }, withTokens, h('label', { for: 'export-tokens' }, "Copy the team's tokens (hashed: teammates keep the token they have)")),
    submit,
  );
  const outcome = h('div', { 'aria-live': 'polite' });
  const open = h('button', { type: 'button' }, 'Move to a server…');

  open.addEventListener('click', () => void start());
  async function start(): Promise<void> {
    form.hidden = false;
    const picked = await context.api.chooseFolder('export').catch(() => null);
    if (picked) folder.value = picked;
    folder.focus();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  async function run(): Promise<void> {
    submit.disabled = true;
    replace(outcome, h('p', { class: 'muted' }, 'Writing the bundle (copies Harbor: a few seconds)…'));
    try {
      const result = await context.api.exportBundle({ dir: folder.value.trim(), withTokens: withTokens.checked });
      replace(outcome, ...renderResult(result));
      context.announce(`Bundle written to ${result.dir}`);
    } catch (error) {
      replace(outcome, errorLine((error as Error).message));
    } finally {
      submit.disabled = false;
    }
  }

  return h(
    'div',
    { class: 'stack move-to-server' },
    h('h3', {}, 'Move to a server'),
    h('p', { class: 'muted' }, 'Outgrow this laptop: the same servers and tokens as containers (Docker Compose, ECS Fargate, Kubernetes) with PostgreSQL, nginx and two replicas.'),
    open,
    form,
    outcome,
  );
}

function renderResult(result: ExportResult): Node[] {
  return [
    h('p', { class: 'export-done' }, 'Bundle written to ', h('code', {}, result.dir), ` — ${result.files.length} files${result.teammates ? `, ${result.teammates} teammate(s) with hashed tokens` : ''}. Read `, h('code', {}, result.readme), '.'),
    result.warnings.length
      ? h('div', { class: 'notice', role: 'note' }, h('p', {}, 'Will not run in a container as it is:'), h('ul', { class: 'export-warnings' }, ...result.warnings.map((w) => h('li', {}, w))))
      : h('p', { class: 'muted' }, 'Nothing in the config needs changing for a container.'),
    result.variables.length
      ? h('div', {}, h('p', {}, 'Set these secrets on the server (they left config.json):'), h('ul', {}, ...result.variables.map((v) => h('li', {}, h('code', {}, v.name), ` — ${v.from}`))))
      : null,
    h('h4', {}, 'Next steps'),
    // The first path (compose on a VM) open: the quickest way to a running server.
    ...result.nextSteps.map((step, i) => h('details', { class: 'snippet deploy-path', open: i === 0 }, h('summary', {}, step.title), h('pre', {}, step.text))),
  ].filter((node) => node !== null);
}
