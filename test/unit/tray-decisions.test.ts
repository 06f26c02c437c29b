/** The tray app's decisions taken out of Electron (main/core): which host, the menu, the autostart command. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppHome } from '../../main/core/app-home.ts';
import { autostartCommand } from '../../main/core/autostart-command.ts';
import { dashboardLinkUrl, firstLine, homeChange, hostLink, isSharing } from '../../main/core/tray-host.ts';
import { trayMenuItems, type TrayMenuFacts } from '../../main/core/tray-menu.ts';
import type { HostStatus } from '../../server/admin/host-api.ts';

const owner = { pid: 4242, startedAt: 1 };
const own: AppHome = { mode: 'own', lock: { file: '/home/harbor.lock', release() {} } };
const attached: AppHome = { mode: 'attached', owner, url: 'http://127.0.0.1:7000', secret: 's1' };
const busy: AppHome = { mode: 'busy', owner, message: 'Harbor is already running' };

test('homeChange: the other Harbor gone means own; a new or moved host means attach; else nothing', () => {
  assert.deepEqual(homeChange(attached, own), { kind: 'own' });
  assert.deepEqual(homeChange(busy, own), { kind: 'own' });
  assert.deepEqual(homeChange(busy, attached), { kind: 'attach', link: { url: 'http://127.0.0.1:7000', secret: 's1' } });
  assert.deepEqual(homeChange(attached, attached), { kind: 'same' });
  assert.deepEqual(homeChange(attached, { ...attached, url: 'http://127.0.0.1:7001' }).kind, 'attach');
  assert.deepEqual(homeChange(attached, { ...attached, secret: 's2' }), { kind: 'attach', link: { url: 'http://127.0.0.1:7000', secret: 's2' } });
  assert.deepEqual(homeChange(attached, busy), { kind: 'same' });
  assert.deepEqual(homeChange(busy, busy), { kind: 'same' });
});

test('hostLink: the own host once it listens, else the attached one; the dashboard keeps the secret in the fragment', () => {
  assert.equal(hostLink({ url: null, adminSecret: 'a' }, own), null);
  assert.deepEqual(hostLink({ url: 'http://127.0.0.1:9', adminSecret: 'a' }, own), { url: 'http://127.0.0.1:9', secret: 'a' });
  assert.deepEqual(hostLink(null, attached), { url: 'http://127.0.0.1:7000', secret: 's1' });
  assert.equal(hostLink(null, busy), null);
  assert.equal(dashboardLinkUrl({ url: 'http://127.0.0.1:9', secret: 'a b/&' }), 'http://127.0.0.1:9/app/#secret=a%20b%2F%26');
});

test('isSharing: the own share state wins; attached, the last status; unknown is off', () => {
  const status = (state: 'off' | 'online') => ({ share: { state, mode: 'quick', publicUrl: null, lastError: null } }) as HostStatus;
  assert.equal(isSharing('online', null), true);
  assert.equal(isSharing('off', status('online')), false);
  assert.equal(isSharing('starting', null), true);
  assert.equal(isSharing(null, status('online')), true);
  assert.equal(isSharing(null, status('off')), false);
  assert.equal(isSharing(null, null), false);
  assert.equal(isSharing(null, {} as HostStatus), false);
});

test('firstLine: only the first line of a multi-line error', () => {
  assert.equal(firstLine('port taken\n  at listen'), 'port taken');
  assert.equal(firstLine('one'), 'one');
  assert.equal(firstLine(''), '');
});

const facts: TrayMenuFacts = { headline: 'Harbor: healthy', home: own, sharing: false, canOpenDashboard: true, openAtLogin: false };
const labels = (items: ReturnType<typeof trayMenuItems>) => items.map((i) => (i.kind === 'separator' ? '—' : i.label));

test('tray menu: headline, share toggle, dashboard, start at login, quit; a note when not owning the home', () => {
  assert.deepEqual(labels(trayMenuItems(facts)), ['Harbor: healthy', '—', 'Share with team', 'Open dashboard', '—', 'Start at login', '—', 'Quit Harbor']);
  assert.deepEqual(labels(trayMenuItems({ ...facts, home: attached })).slice(0, 2), ['Harbor: healthy', 'Attached to harbor serve (pid 4242)']);
  assert.deepEqual(labels(trayMenuItems({ ...facts, home: busy })).slice(0, 2), ['Harbor: healthy', 'Waiting for the running Harbor']);
  const on = trayMenuItems({ ...facts, sharing: true, canOpenDashboard: false, openAtLogin: true });
  assert.ok(on.some((i) => i.kind === 'action' && i.action === 'toggle-share' && i.label === 'Stop sharing'));
  assert.ok(on.some((i) => i.kind === 'action' && i.action === 'open-dashboard' && !i.enabled));
  assert.ok(on.some((i) => i.kind === 'checkbox' && i.checked));
  assert.ok(on.every((i) => i.kind !== 'note' || i.label === 'Harbor: healthy'), 'notes are never clickable actions');
});

test('autostart command: the AppImage file itself, the packaged executable, or Electron with the app folder', () => {
  const base = { appImage: undefined, isPackaged: false, execPath: '/usr/bin/electron', appPath: '/src/harbor' };
  assert.deepEqual(autostartCommand(base), ['/usr/bin/electron', '/src/harbor']);
  assert.deepEqual(autostartCommand({ ...base, isPackaged: true, execPath: '/opt/Harbor/harbor' }), ['/opt/Harbor/harbor']);
  assert.deepEqual(autostartCommand({ ...base, isPackaged: true, appImage: '/home/u/Harbor.AppImage' }), ['/home/u/Harbor.AppImage']);
});
