import { emptyState, errorLine, h, replace } from '../dom.ts';
import { isMissingEndpoint, type HostStatus, type ShareRequest, type ShareState } from '../host-api.ts';
import { copyText, type Section, type SectionContext } from '../section.ts';
import { moveToServerPanel } from './move-to-server.ts';

const STATE_TEXT: Record<ShareState['state'], string> = {
  off: 'Not shared: only this computer can reach Harbor.',
  starting: 'Starting the tunnel…',
  online: 'Shared: teammates can reach Harbor at the public URL.',
  degraded: 'Shared, degraded: the tunnel is up but not fully connected.',
  down: 'Tunnel down: teammates cannot reach Harbor. Retrying.',
};

const QUICK_NOTE =
  'Quick tunnels need no account, but the URL changes every time the tunnel restarts (teammates then need the new one), ' +
  'and Cloudflare buffers streams: server→client notifications arrive late.';

export function shareSection(context: SectionContext): Section {
  const stateBox = h('div', { class: 'share-state', 'aria-live': 'polite' });
  const message = h('div', { 'aria-live': 'polite' });
  const quick = h('input', { type: 'radio', name: 'share-mode', id: 'share-quick', value: 'quick', checked: true });
  const named = h('input', { type: 'radio', name: 'share-mode', id: 'share-named', value: 'named' });
  const hostname = h('input', { id: 'share-hostname', placeholder: 'harbor.example.com', autocomplete: 'off', spellcheck: 'false' });
  const token = h('input', { id: 'share-token', type: 'password', autocomplete: 'off', placeholder: 'kept in the OS keychain' });
  const namedFields = h(
    'div',
    { class: 'stack', hidden: true },
    h('label', { for: 'share-hostname' }, 'Public hostname'),
    hostname,
    h('label', { for: 'share-token' }, 'Tunnel token (leave empty to reuse the saved one)'),
    token,
  );
  const toggle = h('button', { type: 'submit', class: 'primary' }, 'Share with team');
  const form = h(
    'form',
    { class: 'stack' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Tunnel'),
      h('div', { class: 'choice' }, quick, h('label', { for: 'share-quick' }, 'Quick — no account, temporary URL')),
      h('div', { class: 'choice' }, named, h('label', { for: 'share-named' }, 'Named — your Cloudflare tunnel, stable URL')),
    ),
    namedFields,
    toggle,
  );
  for (const radio of [quick, named]) radio.addEventListener('change', () => (namedFields.hidden = !named.checked));
  let current: ShareState | null = null;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (current && current.state !== 'off' ? stop() : start());
  });

  async function start(): Promise<void> {
    const request: ShareRequest = named.checked
      ? { mode: 'named', hostname: hostname.value.trim(), ...(token.value ? { token: token.value } : {}) }
      : { mode: 'quick' };
    toggle.disabled = true;
    try {
      render(await context.api.startShare(request));
      token.value = '';
      message.replaceChildren();
    } catch (error) {
      replace(message, errorLine((error as Error).message));
    } finally {
      toggle.disabled = false;
    }
  }

  async function stop(): Promise<void> {
    toggle.disabled = true;
    try {
      render(await context.api.stopShare());
      context.announce('Sharing stopped');
    } catch (error) {
      replace(message, errorLine((error as Error).message));
    } finally {
      toggle.disabled = false;
    }
  }

  function render(share: ShareState): void {
    current = share;
    toggle.textContent = share.state === 'off' ? 'Share with team' : 'Stop sharing';
    form.querySelector('fieldset')!.disabled = share.state !== 'off';
    namedFields.hidden = !named.checked;
    const degraded = share.degradedReason ?? (share.mode === 'quick' && share.state !== 'off' ? QUICK_NOTE : null);
    replace(
      stateBox,
      h('p', { class: `state share-${share.state}`, 'data-state': share.state }, h('span', { class: 'dot', 'aria-hidden': 'true' }), STATE_TEXT[share.state]),
      share.publicUrl
        ? h(
            'p',
            { class: 'url-row' },
            h('code', {}, share.publicUrl),
            ' ',
            h('button', { type: 'button', 'aria-label': 'Copy public URL', onclick: () => void copyText(context, share.publicUrl!, 'Public URL') }, 'Copy'),
          )
        : null,
      degraded ? h('p', { class: 'notice', role: 'note' }, degraded) : null,
      share.lastError ? errorLine(share.lastError) : null,
      share.mode === 'quick' && share.publicUrl ? h('p', { class: 'muted' }, 'New teammates get bundles with this URL; existing ones need it again after a restart.') : null,
    );
  }

  const panel = h('section', { class: 'panel' }, h('h2', {}, 'Share'), stateBox, message, form, h('p', { class: 'muted' }, QUICK_NOTE), moveToServerPanel(context));
  return {
    id: 'share',
    label: 'Share',
    panel,
    async refresh(status: HostStatus | null) {
      if (status?.share) {
        render(status.share);
        return;
      }
      try {
        render(await context.api.share());
      } catch (error) {
        form.hidden = isMissingEndpoint(error);
        replace(stateBox, isMissingEndpoint(error) ? emptyState('This host cannot share through a tunnel yet.') : errorLine((error as Error).message));
      }
    },
  };
}
