import { confirmAction } from '../confirm-dialog.ts';
import { emptyState, errorLine, gridTable, h, replace } from '../dom.ts';
import { formatAgo, formatVia } from '../format.ts';
import { isMissingEndpoint, type ConnectionBundle, type LiveSignIn, type NewTeammate, type SignInApproval, type Snippet, type Teammate, type TeammateConnection } from '../host-api.ts';
import { copyText, type Section, type SectionContext } from '../section.ts';
import { teamRows } from './team-rows.ts';

export function teamSection(context: SectionContext): Section {
  const list = h('div', { class: 'team-list' });
  const waiting = h('div', { class: 'approvals' });
  const message = h('div', { 'aria-live': 'polite' });
  const bundleBox = h('div', { class: 'bundle-box' });
  const nameInput = h('input', { id: 'teammate-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. dana' });
  const form = h(
    'form',
    { class: 'inline', 'aria-label': 'Add a teammate' },
    h('label', { for: 'teammate-name' }, 'Teammate name'),
    nameInput,
    h('button', { type: 'submit', class: 'primary' }, 'Add teammate'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void add(nameInput.value.trim());
  });

  async function add(name: string): Promise<void> {
    if (!name) return;
    try {
      const created = await context.api.addTeammate(name);
      form.reset();
      message.replaceChildren();
      showBundles(created);
      context.announce(`${name} added. Their token is shown once.`);
      await load();
    } catch (error) {
      replace(message, errorLine((error as Error).message));
    }
  }

  function showBundles(created: NewTeammate): void {
    const bundles = created.bundles ?? [];
    // One snippet per client over all the servers (one mcpServers block to paste whole); connector URLs
    // stay per server, each pasted into a form of its own.
    const merged = created.merged ?? [];
    const connector = bundles[0]?.snippets.find((sn) => sn.client === 'connector');
    const clients = [...merged.map((sn) => [sn.client, sn.title] as const), ...(connector ? [[connector.client, connector.title] as const] : [])];
    const heading = h('h3', { id: 'bundle-heading', tabindex: '-1' }, `Connect ${created.teammate.name}`);
    const picker = h('select', { id: 'bundle-client' }, ...clients.map(([id, title]) => h('option', { value: id }, title)));
    const snippets = h('div', { class: 'bundle-snippets' });
    const renderSnippets = () => {
      const chosen = merged.find((sn) => sn.client === picker.value);
      if (chosen) replace(snippets, snippetView(chosen, chosen.title));
      else replace(snippets, ...bundles.map((bundle) => {
        const sn = bundle.snippets.find((candidate) => candidate.client === picker.value);
        return sn ? snippetView(sn, `${sn.title} for ${bundle.serverName}`, bundle.serverName) : emptyState(`No snippet for ${bundle.serverName}.`);
      }));
    };
    picker.addEventListener('change', renderSnippets);
    renderSnippets();
    replace(
      bundleBox,
      h(
        'div',
        { class: 'bundle', role: 'region', 'aria-labelledby': 'bundle-heading' },
        heading,
        h('p', { class: 'muted' }, 'Send these to the teammate over a private channel; Harbor keeps only a hash of the token.'),
        h(
          'p',
          { class: 'token-row' },
          'Token (shown once): ',
          h('code', { class: 'secret' }, created.token),
          ' ',
          h('button', { type: 'button', 'aria-label': 'Copy token', onclick: () => void copyText(context, created.token, 'Token') }, 'Copy'),
        ),
        installLinks(bundles),
        h('div', { class: 'inline' }, h('label', { for: 'bundle-client' }, 'Their client'), picker),
        snippets,
        h('button', { type: 'button', onclick: () => bundleBox.replaceChildren() }, 'Done'),
      ),
    );
    heading.focus();
  }

  /** One-click installs per server (Cursor, VS Code): links the teammate opens on their machine. */
  function installLinks(bundles: ConnectionBundle[]): HTMLElement | null {
    const rows = bundles.filter((b) => b.installLinks?.length);
    if (!rows.length) return null;
    return h(
      'div',
      { class: 'install-links' },
      h('h4', {}, 'One-click install'),
      h('p', { class: 'muted' }, 'Each link carries the token: send it like a password. Opened on their machine, the client asks before adding the server.'),
      h(
        'ul',
        {},
        ...rows.map((bundle) =>
          h(
            'li',
            { 'data-server': bundle.serverName },
            h('strong', {}, bundle.serverName),
            ...bundle.installLinks.flatMap((link) => [
              ' ',
              h('a', { href: link.url, class: 'install-link', 'data-client': link.client }, link.title),
              ' ',
              h('button', {
                type: 'button',
                'aria-label': `Copy ${link.title} link for ${bundle.serverName}`,
                onclick: () => void copyText(context, link.url, `${link.title} link for ${bundle.serverName}`),
              }, 'Copy link'),
            ]),
          ),
        ),
      ),
    );
  }

  function snippetView(snippet: Snippet, what: string, serverName?: string): HTMLElement {
    return h(
      'div',
      { class: 'snippet', 'data-client': snippet.client, ...(serverName ? { 'data-server': serverName } : {}) },
      h(
        'div',
        { class: 'snippet-head' },
        h('strong', {}, serverName ?? 'All servers'),
        snippet.file ? h('span', { class: 'muted' }, ` ${snippet.file}`) : null,
        h('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${what} snippet`, onclick: () => void copyText(context, snippet.text, `${what} snippet`) }, 'Copy'),
      ),
      h('pre', {}, h('code', {}, snippet.text)),
      snippet.note ? h('p', { class: 'note' }, snippet.note) : null,
    );
  }

  async function revoke(name: string): Promise<void> {
    if (!(await confirmAction(`Revoke ${name}'s token? Their open sessions end now and their next request gets 401.`, 'Revoke'))) return;
    try {
      const result = await context.api.revokeTeammate(name);
      context.announce(`${name} revoked; ${result.sessionsClosed} sessions closed`);
      await load();
    } catch (error) {
      replace(message, errorLine((error as Error).message));
    }
  }

  function render(teammates: Teammate[], connections: TeammateConnection[], signIns: LiveSignIn[]): void {
    const { rows, revoked, signedOut } = teamRows(teammates, connections, signIns);
    const gone = [revoked ? `${revoked} revoked` : '', signedOut ? `${signedOut} no longer signed in` : ''].filter(Boolean).join(' · ');
    if (!rows.length) {
      replace(list, emptyState('No teammates yet. Add one to get a token and ready-to-paste client settings.'));
      return;
    }
    replace(
      list,
      gridTable('Teammates', ['Teammate', 'Connected', 'Last seen', 'Calls', 'Access', 'Actions'], rows.map(({ teammate: t, connections: ways }) =>
        h(
          'tr',
          { 'data-teammate': t.name },
          h('th', { scope: 'row' }, t.name),
          h('td', { class: 'connected' }, ways.length
            ? h('ul', { class: 'ways' }, ...ways.map((c) => h('li', { 'data-via': c.via.kind }, `${formatVia(c.via)}, last seen ${formatAgo(c.lastAt)}`)))
            : h('span', { class: 'muted' }, 'not connected yet')),
          h('td', {}, formatAgo(t.lastUsedAt)),
          h('td', {}, String(t.calls)),
          h('td', {}, t.scope ? t.scope.join(', ') : 'all servers', t.expiresAt ? ` · expires ${new Date(t.expiresAt).toLocaleDateString()}` : ''),
          h('td', { class: 'actions' }, h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${t.name}`, onclick: () => void revoke(t.name) }, 'Revoke')),
        ),
      )),
      gone ? h('p', { class: 'muted' }, gone) : null,
    );
  }

  /** The owner's answer to a sign-in; either way the request leaves the list (the teammate may ask again). */
  async function decide(approval: SignInApproval, approve: boolean): Promise<void> {
    try {
      await (approve ? context.api.approve(approval.id) : context.api.deny(approval.id));
      context.announce(approve ? `${approval.teammate} approved: their client gets its tokens now.` : `${approval.teammate} denied.`);
    } catch (error) {
      replace(message, errorLine((error as Error).message));
    }
    await load();
  }

  function renderApprovals(approvals: SignInApproval[]): void {
    if (!approvals.length) return waiting.replaceChildren();
    replace(
      waiting,
      h('h3', {}, 'Waiting to connect'),
      h(
        'ul',
        { class: 'approval-list', 'aria-label': 'Sign-ins waiting for you' },
        ...approvals.map((a) =>
          h(
            'li',
            { 'data-approval': a.id, 'data-teammate': a.teammate },
            h('strong', {}, a.teammate),
            ` wants to connect from ${a.client}`,
            a.invited ? null : h('span', { class: 'muted' }, ' · not invited'),
            h('span', { class: 'muted' }, ` · asked ${formatAgo(a.requestedAt)}`),
            ' ',
            h('button', { type: 'button', class: 'primary', 'aria-label': `Approve ${a.teammate}`, onclick: () => void decide(a, true) }, 'Approve'),
            ' ',
            h('button', { type: 'button', class: 'danger', 'aria-label': `Deny ${a.teammate}`, onclick: () => void decide(a, false) }, 'Deny'),
          ),
        ),
      ),
    );
  }

  async function loadApprovals(): Promise<void> {
    try {
      renderApprovals(await context.api.approvals());
    } catch (error) {
      // Sign-in off ("auth": "tokens") or an older host: nobody can be waiting, so say nothing.
      if (isMissingEndpoint(error)) waiting.replaceChildren();
      else replace(waiting, errorLine(`Sign-ins: ${(error as Error).message}`));
    }
  }

  /**
   * A list a host may not offer: how each teammate connected (an older host shows the list without),
   * live sign-ins (none with sign-in off, "auth": "tokens").
   */
  async function noneIfMissing<T>(read: () => Promise<T[]>): Promise<T[]> {
    try {
      return await read();
    } catch (error) {
      if (isMissingEndpoint(error)) return [];
      throw error;
    }
  }

  async function load(): Promise<void> {
    const approvals = loadApprovals();
    try {
      const [teammates, connections, signIns] = await Promise.all([context.api.teammates(), noneIfMissing(() => context.api.connections()), noneIfMissing(() => context.api.signIns())]);
      render(teammates, connections, signIns);
    } catch (error) {
      replace(list, errorLine(`Teammates: ${(error as Error).message}`));
    }
    await approvals;
  }

  const panel = h('section', { class: 'panel' }, h('h2', {}, 'Team'), waiting, form, message, bundleBox, list);
  return { id: 'team', label: 'Team', panel, refresh: () => load() };
}
