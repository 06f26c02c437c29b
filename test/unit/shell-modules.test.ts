/** The plain modules behind the Electron shell: autostart entry, notifications, popover placement, tray icons. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { autostartFile, desktopEntry, desktopExecArg, isLinuxAutostartEnabled, setLinuxAutostart } from '../../main/shell/autostart-linux.ts';
import { notificationsBetween, type Observation } from '../../main/core/notification-rules.ts';
import { popoverPosition } from '../../main/shell/popover-position.ts';
import { trayIconFile, trayTooltip } from '../../main/shell/tray-icons.ts';
import { ROOT } from '../helpers/harbor.ts';

test('Linux autostart: writes, reads and removes an XDG .desktop entry', () => {
  const home = mkdtempSync(join(tmpdir(), 'harbor-autostart-'));
  try {
    const env = { HOME: home };
    const options = { id: 'harbor', name: 'Harbor', exec: ['/opt/Harbor App/Harbor.AppImage', '--hidden'], env };
    assert.equal(autostartFile('harbor', env), join(home, '.config/autostart/harbor.desktop'));
    assert.equal(autostartFile('harbor', { HOME: home, XDG_CONFIG_HOME: '/xdg' }), '/xdg/autostart/harbor.desktop');
    assert.equal(isLinuxAutostartEnabled('harbor', env), false);
    setLinuxAutostart(true, options);
    const text = readFileSync(autostartFile('harbor', env), 'utf8');
    assert.match(text, /^\[Desktop Entry\]\nType=Application\nName=Harbor\n/);
    assert.match(text, /^Exec="\/opt\/Harbor App\/Harbor.AppImage" --hidden$/m);
    assert.equal(isLinuxAutostartEnabled('harbor', env), true);
    // The desktop's own switch wins.
    writeFileSync(autostartFile('harbor', env), `${text}Hidden=true\n`);
    assert.equal(isLinuxAutostartEnabled('harbor', env), false);
    setLinuxAutostart(false, options);
    assert.equal(existsSync(autostartFile('harbor', env)), false);
    setLinuxAutostart(false, options); // idempotent
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('desktop Exec quoting follows the Desktop Entry spec; values stay on one line', () => {
  assert.equal(desktopExecArg('/usr/bin/harbor'), '/usr/bin/harbor');
  assert.equal(desktopExecArg('a b'), '"a b"');
  assert.equal(desktopExecArg('say "$HOME"'), '"say \\"\\$HOME\\""');
  assert.equal(desktopExecArg('100%'), '100%%');
  assert.equal(desktopExecArg(''), '""');
  assert.doesNotMatch(desktopEntry({ id: 'x', name: 'Bad\nExec=evil', exec: ['x'] }), /^Exec=evil/m);
});

const green: Observation = { health: { state: 'green', reasons: [] }, teammates: [{ name: 'alice', lastUsedAt: null, revokedAt: null }], publicUrl: null };

test('notifications: red and recovery, first connection, new URL; nothing replayed at launch', () => {
  assert.deepEqual(notificationsBetween(null, green), []);
  const red: Observation = { ...green, health: { state: 'red', reasons: ['Harbor host is not running'] } };
  assert.deepEqual(notificationsBetween(null, red).map((n) => [n.kind, n.body]), [['health-red', 'Harbor host is not running']]);
  assert.deepEqual(notificationsBetween(green, red).map((n) => n.kind), ['health-red']);
  assert.deepEqual(notificationsBetween(red, red), []);
  assert.deepEqual(notificationsBetween(red, green).map((n) => n.title), ['Harbor recovered']);
  const amber: Observation = { ...green, health: { state: 'amber', reasons: ['fixture restarted'] } };
  assert.deepEqual(notificationsBetween(green, amber), [], 'amber alone does not notify');

  const used: Observation = { ...green, teammates: [{ name: 'alice', lastUsedAt: 5, revokedAt: null }, { name: 'bob', lastUsedAt: 6, revokedAt: null }] };
  assert.deepEqual(notificationsBetween(green, used).map((n) => n.title), ['alice connected', 'bob connected']);
  assert.deepEqual(notificationsBetween(used, used), []);
  assert.deepEqual(notificationsBetween({ ...green, teammates: null }, used), [], 'no list before: no news');

  const shared: Observation = { ...green, publicUrl: 'https://a.trycloudflare.com' };
  assert.deepEqual(notificationsBetween(green, shared).map((n) => n.title), ['Harbor is shared']);
  const moved = notificationsBetween(shared, { ...green, publicUrl: 'https://b.trycloudflare.com' });
  assert.deepEqual(moved.map((n) => n.kind), ['public-url']);
  assert.match(moved[0]!.body, /b\.trycloudflare\.com — teammates need the new URL/);
  assert.deepEqual(notificationsBetween(null, shared), [], 'a resumed share at launch is not news');
});

test('popover: under a top menu bar, above a bottom taskbar, beside a side one, inside the work area', () => {
  const size = { width: 420, height: 600 };
  const screen = { x: 0, y: 25, width: 1440, height: 875 };
  assert.deepEqual(popoverPosition({ x: 1200, y: 0, width: 24, height: 24 }, size, screen), { x: 1002, y: 29 });
  // Near the right edge: clamped inside.
  assert.deepEqual(popoverPosition({ x: 1420, y: 0, width: 20, height: 24 }, size, screen), { x: 1016, y: 29 });
  const windows = { x: 0, y: 0, width: 1920, height: 1040 };
  assert.deepEqual(popoverPosition({ x: 1700, y: 1044, width: 24, height: 32 }, size, windows), { x: 1496, y: 436 });
  const leftTaskbar = { x: 48, y: 0, width: 1872, height: 1080 };
  assert.deepEqual(popoverPosition({ x: 8, y: 900, width: 32, height: 32 }, size, leftTaskbar), { x: 52, y: 476 });
  assert.deepEqual(popoverPosition({ x: 0, y: 0, width: 0, height: 0 }, size, windows), { x: 1496, y: 4 });
});

test('tray icons: template images on macOS, coloured elsewhere, files present; tooltips bounded', () => {
  const icons = join(ROOT, 'resources/icons');
  assert.equal(trayIconFile('red', 'darwin', icons), join(icons, 'tray-redTemplate.png'));
  assert.equal(trayIconFile('amber', 'win32', icons), join(icons, 'tray-amber.png'));
  for (const state of ['green', 'amber', 'red'] as const) {
    for (const platform of ['darwin', 'win32', 'linux'] as const) assert.ok(existsSync(trayIconFile(state, platform, icons)));
  }
  assert.equal(trayTooltip('amber', ['fixture restarted 3 times']), 'Harbor: needs attention\nfixture restarted 3 times');
  assert.equal(trayTooltip('red', ['x'.repeat(300)]).length, 127);
});
