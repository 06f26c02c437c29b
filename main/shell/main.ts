/**
 * Harbor's Electron main process: a tray icon showing health, a popover with the renderer, native
 * notifications, start at login, and the host child + tunnel run by the same HostController as the
 * headless `harbor serve`. Thin on purpose: it wires Electron's events to plain modules beside it
 * (popover-position, tray-icons, autostart-linux) and in main/core (the health watcher and its notification
 * rules, shared with `harbor serve`; the host controller).
 */
import { app, BrowserWindow, Menu, nativeImage, Notification, powerMonitor, screen, shell, Tray } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpHostApi } from '../../renderer/host-api.ts';
import type { HostApi, HostStatus } from '../../server/admin/host-api.ts';
import type { ChildProcess } from 'node:child_process';
import { appHomeNote, claimAppHome, type AppHome } from '../core/app-home.ts';
import { controllerSettings } from '../core/controller-options.ts';
import { HealthWatcher } from '../core/health-watcher.ts';
import { HostController } from '../core/host-controller.ts';
import { UtilityChild } from './utility-child.ts';
import { APP_SCHEME, POPOVER_URL, registerAppScheme, serveAppScheme } from './app-protocol.ts';
import { isLinuxAutostartEnabled, setLinuxAutostart } from './autostart-linux.ts';
import { registerHostApiHandlers } from './ipc-bridge.ts';
import { setupLogging } from './logging.ts';
import { popoverPosition } from './popover-position.ts';
import { trayIconFile, trayTooltip, type TrayState } from './tray-icons.ts';

const POPOVER_SIZE = { width: 420, height: 600 };
const STATUS_POLL_MS = 5000;
const AUTOSTART_ID = 'harbor';

// The built file sits in dist/main/shell/; the preload is compiled to CommonJS beside it.
const HERE = fileURLToPath(new URL('.', import.meta.url));
const PRELOAD = join(HERE, 'preload.cjs');
const ICONS = join(app.getAppPath(), 'resources', 'icons');

registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  // Another Harbor owns the tray and the host: it shows its popover (second-instance), we leave.
  app.quit();
} else {
  void run();
}

async function run(): Promise<void> {
  await app.whenReady();
  app.dock?.hide();
  // The same home, config.json and options as `harbor serve` (not Electron's userData): one Harbor.
  const settings = controllerSettings();
  const home = settings.paths.home;
  const { log, logger } = setupLogging(settings.paths.logs, { verbose: !app.isPackaged });
  log.info(`Harbor ${app.getVersion()} starting in ${home} (Electron ${process.versions.electron}, Node ${process.versions.node})`);
  serveAppScheme();

  // The home's lock before anything is written; a `harbor serve` already there is attached to (app-home.ts).
  let claim: AppHome = claimAppHome(home);
  const controller =
    claim.mode !== 'own'
      ? null
      : new HostController({
          ...settings.controller,
          logger,
          // Packaged: cloudflared ships in the app's resources; from source: PATH or the cloudflared npm package.
          tunnel: { ...settings.controller.tunnel, ...(app.isPackaged ? { resourcesPath: process.resourcesPath } : {}), logger },
          // The runAsNode fuse is off in a packaged app, so child_process.fork cannot start Node there:
          // the host child runs as an Electron utility process, which speaks the same messages.
          launch: (modulePath, args, options) => new UtilityChild(modulePath, args, options) as unknown as ChildProcess,
        });
  let api: HostApi | null = claim.mode === 'attached' ? new HttpHostApi({ baseUrl: claim.url, secret: claim.secret }) : null;
  const currentApi = (): HostApi => {
    if (!api) throw new Error('Harbor is starting; try again in a moment');
    return api;
  };
  const watcher = new HealthWatcher({
    api: () => api,
    publicUrl: () => controller?.share.state.publicUrl ?? null,
    intervalMs: STATUS_POLL_MS,
    onError: (error) => log.warn(`status: ${error.message}`),
  });
  controller?.on('ready', (ready) => {
    api = new HttpHostApi({ baseUrl: ready.url, secret: controller.adminSecret });
    log.info(`host ready at ${ready.url}`);
    void watcher.poll();
  });
  controller?.on('state', (event) => log.info(`host ${event.from} → ${event.to}: ${event.reason}`));
  controller?.on('share', () => {
    refreshMenu();
    void watcher.poll();
  });

  /** Attached or waiting: look at the home again; once the other Harbor is gone, start over as its owner. */
  function reclaim(): void {
    const next = claimAppHome(home);
    if (next.mode === 'own') {
      log.info('the harbor serve this app was attached to has stopped: restarting to host here');
      next.lock.release();
      app.relaunch();
      app.exit(0);
      return;
    }
    if (next.mode === 'attached' && (claim.mode !== 'attached' || next.url !== claim.url || next.secret !== claim.secret)) {
      api = new HttpHostApi({ baseUrl: next.url, secret: next.secret });
      log.info(appHomeNote(next)!);
    }
    claim = next;
  }

  const tray = new Tray(trayImage('amber'));
  tray.setToolTip('Harbor: starting…');
  const popover = createPopover();
  const unregister = registerHostApiHandlers({ api: currentApi, window: () => popover, allowedUrlPrefix: `${APP_SCHEME}://ui/` });

  let trayState: TrayState = 'amber';
  let lastStatus: HostStatus | null = null;
  watcher.on('status', ({ status, health }) => {
    lastStatus = status;
    if (!controller && !status) reclaim();
    const changed = health.state !== trayState;
    setTray(health.state, health.reasons);
    if (changed) refreshMenu();
  });
  watcher.on('notification', (spec) => {
    if (Notification.isSupported()) new Notification({ title: spec.title, body: spec.body, silent: spec.kind !== 'health-red' }).show();
    log.info(`notified: ${spec.title}`);
  });

  function setTray(state: TrayState, reasons: readonly string[]): void {
    if (state !== trayState) tray.setImage(trayImage(state));
    trayState = state;
    tray.setToolTip(trayTooltip(state, reasons));
  }

  function togglePopover(): void {
    if (popover.isVisible()) {
      popover.hide();
      return;
    }
    const bounds = tray.getBounds();
    const display = screen.getDisplayNearestPoint({ x: bounds.x, y: bounds.y });
    const { x, y } = popoverPosition(bounds, POPOVER_SIZE, display.workArea);
    popover.setPosition(x, y, false);
    popover.show();
    popover.focus();
  }

  function openAtLogin(): boolean {
    return process.platform === 'linux' ? isLinuxAutostartEnabled(AUTOSTART_ID) : app.getLoginItemSettings().openAtLogin;
  }

  function setOpenAtLogin(enabled: boolean): void {
    if (process.platform === 'linux') {
      // An AppImage runs from a temporary mount: autostart must name the AppImage file itself.
      const exec = process.env.APPIMAGE ? [process.env.APPIMAGE] : app.isPackaged ? [process.execPath] : [process.execPath, app.getAppPath()];
      setLinuxAutostart(enabled, { id: AUTOSTART_ID, name: 'Harbor', comment: 'Share your MCP servers with your team', exec });
    } else {
      app.setLoginItemSettings({ openAtLogin: enabled });
    }
    refreshMenu();
  }

  /** The share as this app knows it: its own controller's, or the attached host's last status. */
  const sharing = (): boolean => (controller ? controller.share.state.state : (lastStatus?.share?.state ?? 'off')) !== 'off';

  async function toggleShare(): Promise<void> {
    try {
      // Attached, the running host forwards the request to its own controller.
      if (!sharing()) await (controller ? controller.share.start({ mode: 'quick' }) : currentApi().startShare({ mode: 'quick' }));
      else await (controller ? controller.share.stop() : currentApi().stopShare());
    } catch (error) {
      log.warn(`share: ${(error as Error).message}`);
      if (Notification.isSupported()) new Notification({ title: 'Sharing failed', body: (error as Error).message }).show();
    }
    refreshMenu();
  }

  /** The host's URL and admin secret: this app's own host, or the attached `harbor serve`'s. */
  function hostLink(): { url: string; secret: string } | null {
    if (controller) return controller.url ? { url: controller.url, secret: controller.adminSecret } : null;
    return claim.mode === 'attached' ? { url: claim.url, secret: claim.secret } : null;
  }

  function openDashboard(): void {
    const link = hostLink();
    if (!link) return;
    // The fragment stays in the browser (never sent to the host); the page moves it to sessionStorage.
    void shell.openExternal(`${link.url}/app/#secret=${encodeURIComponent(link.secret)}`);
  }

  function refreshMenu(): void {
    const menu = Menu.buildFromTemplate([
      { label: trayTooltip(trayState, lastStatus?.health?.reasons ?? []).split('\n')[0]!, enabled: false },
      ...(claim.mode === 'own' ? [] : [{ label: claim.mode === 'attached' ? `Attached to harbor serve (pid ${claim.owner.pid})` : 'Waiting for the running Harbor', enabled: false }]),
      { type: 'separator' },
      { label: sharing() ? 'Stop sharing' : 'Share with team', click: () => void toggleShare() },
      { label: 'Open dashboard', enabled: hostLink() !== null, click: openDashboard },
      { type: 'separator' },
      { label: 'Start at login', type: 'checkbox', checked: openAtLogin(), click: (item) => setOpenAtLogin(item.checked) },
      { type: 'separator' },
      { label: 'Quit Harbor', role: 'quit' },
    ]);
    // Many Linux trays deliver no clicks, only the context menu: it must be set there.
    if (process.platform === 'linux') tray.setContextMenu(menu);
    currentMenu = menu;
  }
  let currentMenu: Menu | null = null;

  tray.on('click', togglePopover);
  tray.on('right-click', () => {
    if (currentMenu) tray.popUpContextMenu(currentMenu);
  });
  refreshMenu();
  app.on('second-instance', togglePopover);
  // A tray app lives on with no window open.
  app.on('window-all-closed', () => {});

  // After sleep the tunnel's connections are stale and the host may be wedged: check both.
  powerMonitor.on('resume', () => {
    log.info('resumed from sleep: checking host and tunnel');
    void (async () => {
      // Attached, the `harbor serve` that owns the host and tunnel checks them itself.
      if (controller) {
        await controller.share.checkAlive().catch((error: Error) => log.warn(`tunnel check: ${error.message}`));
        try {
          await currentApi().status();
        } catch {
          await controller.restart('not answering after sleep');
        }
      }
      await watcher.poll();
    })();
  });

  watcher.start();

  // Quitting stops every child (host, its upstreams, cloudflared) before the process exits.
  let stopped = false;
  app.on('before-quit', (event) => {
    if (stopped) return;
    event.preventDefault();
    watcher.stop();
    unregister();
    log.info(controller ? 'quitting: stopping the host and the tunnel' : 'quitting: the attached harbor serve keeps running');
    (controller?.stop() ?? Promise.resolve()).then(
      () => {
        stopped = true;
        app.quit();
      },
      (error: Error) => {
        log.error(`stop failed: ${error.message}`);
        stopped = true;
        app.exit(1);
      },
    );
  });

  if (!controller) {
    // Attached (or the other Harbor still starting): nothing of ours to start; say so in the tray.
    const note = appHomeNote(claim)!;
    log.info(note);
    setTray('amber', [note]);
    refreshMenu();
    void watcher.poll();
    return;
  }
  try {
    await controller.start();
  } catch (error) {
    log.error(`host failed to start: ${(error as Error).message}`);
    setTray('red', [(error as Error).message.split('\n')[0] ?? 'Harbor host failed to start']);
    if (Notification.isSupported()) new Notification({ title: 'Harbor could not start', body: (error as Error).message.split('\n')[0] ?? '' }).show();
  }
}

function trayImage(state: TrayState) {
  const image = nativeImage.createFromPath(trayIconFile(state, process.platform, ICONS));
  if (process.platform === 'darwin') image.setTemplateImage(true);
  return image;
}

function createPopover(): BrowserWindow {
  const window = new BrowserWindow({
    ...POPOVER_SIZE,
    show: false,
    frame: false,
    resizable: false,
    movable: false,
    minimizable: false,
    maximizable: false,
    fullscreenable: false,
    skipTaskbar: true,
    alwaysOnTop: true,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  window.on('blur', () => {
    if (!window.webContents.isDevToolsOpened()) window.hide();
  });
  // The popover never navigates or opens windows; links go to the user's browser.
  window.webContents.on('will-navigate', (event, url) => {
    if (url.startsWith(`${APP_SCHEME}://ui/`)) return;
    event.preventDefault();
    // The Team tab's one-click install links go to the client that registered the scheme.
    if (/^(cursor:\/\/anysphere\.cursor-deeplink\/|vscode:mcp\/install\?)/.test(url)) void shell.openExternal(url);
  });
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void window.loadURL(POPOVER_URL);
  return window;
}
