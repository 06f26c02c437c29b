/**
 * Harbor's Electron main process: a tray icon showing health, a popover with the renderer, native
 * notifications, start at login, and the host child + tunnel run by the same HostController as the
 * headless `harbor serve`. Thin on purpose: it wires Electron's events to modules beside it (tray-view,
 * popover-window, home-connection, own-host, login-item) and the decisions in main/core (the health
 * watcher and its notification rules, shared with `harbor serve`; tray-host and tray-menu; the host controller).
 */
import { app, Notification, powerMonitor, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostStatus } from '../../server/admin/host-api.ts';
import { appHomeNote, claimAppHome } from '../core/app-home.ts';
import { controllerSettings } from '../core/controller-options.ts';
import { HealthWatcher } from '../core/health-watcher.ts';
import type { HostController } from '../core/host-controller.ts';
import { choiceAt, notificationPlan, performChoice, type NotificationChoice } from '../core/notification-actions.ts';
import type { NotificationSpec } from '../core/notification-rules.ts';
import { dashboardLinkUrl, firstLine, hostLink, isSharing } from '../core/tray-host.ts';
import type { TrayAction } from '../core/tray-menu.ts';
import { APP_SCHEME, registerAppScheme, serveAppScheme } from './app-protocol.ts';
import { connectHome, type HomeConnection } from './home-connection.ts';
import { registerHostApiHandlers } from './ipc-bridge.ts';
import { openAtLogin, setOpenAtLogin } from './login-item.ts';
import { setupLogging, type ShellLogging } from './logging.ts';
import { createOwnController } from './own-host.ts';
import { createPopover, showPopoverTab, togglePopover } from './popover-window.ts';
import { createTrayView, type TrayView } from './tray-view.ts';

const STATUS_POLL_MS = 5000;

// The built file sits in dist/main/shell/; the preload is compiled to CommonJS beside it.
const HERE = fileURLToPath(new URL('.', import.meta.url));
const PRELOAD = join(HERE, 'preload.cjs');
const ICONS = join(app.getAppPath(), 'resources', 'icons');

type Log = ShellLogging['log'];

/** The parts the wiring functions share; built once in run(). */
interface Shell {
  log: Log;
  /** Null when the app is attached to (or waiting for) another Harbor. */
  controller: HostController | null;
  home: HomeConnection;
  watcher: HealthWatcher;
  tray: TrayView;
  /** The attached host's last status (null before the first answer). */
  lastStatus: HostStatus | null;
  /** Opens the popover on the Team tab (a sign-in notification's click). */
  openTeamTab: () => void;
}

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
  const { log, logger } = setupLogging(settings.paths.logs, { verbose: !app.isPackaged });
  log.info(`Harbor ${app.getVersion()} starting in ${settings.paths.home} (Electron ${process.versions.electron}, Node ${process.versions.node})`);
  serveAppScheme();

  // The home's lock before anything is written; a `harbor serve` already there is attached to (app-home.ts).
  const claim = claimAppHome(settings.paths.home);
  const controller = claim.mode === 'own' ? createOwnController(settings, logger) : null;
  const home = connectHome(settings.paths.home, claim, log);
  const watcher = new HealthWatcher({
    api: () => home.api(),
    publicUrl: () => controller?.share.state.publicUrl ?? null,
    intervalMs: STATUS_POLL_MS,
    onError: (error) => log.warn(`status: ${error.message}`),
  });
  // The tray's menu reads the shell and its actions act on it, only once run() has built it.
  const popover = createPopover(PRELOAD);
  const s: Shell = { log, controller, home, watcher, lastStatus: null, tray: createShellTray(() => s), openTeamTab: () => showPopoverTab(popover, s.tray.tray.getBounds(), 'team') };
  wireController(s);
  const unregister = registerHostApiHandlers({ api: () => home.currentApi(), window: () => popover, allowedUrlPrefix: `${APP_SCHEME}://ui/` });
  wireWatcher(s);
  s.tray.tray.on('click', () => togglePopover(popover, s.tray.tray.getBounds()));
  s.tray.refreshMenu();
  app.on('second-instance', () => togglePopover(popover, s.tray.tray.getBounds()));
  // A tray app lives on with no window open.
  app.on('window-all-closed', () => {});
  wireResume(s);
  watcher.start();
  wireQuit(s, unregister);
  await (controller ? startOwnHost(s, controller) : showAttached(s));
}

/** Own host: its readiness gives the admin API client; its share changes redraw the menu and poll at once. */
function wireController({ controller, home, watcher, tray, log }: Shell): void {
  controller?.on('ready', (ready) => {
    home.connect({ url: ready.url, secret: controller.adminSecret });
    log.info(`host ready at ${ready.url}`);
    void watcher.poll();
  });
  controller?.on('state', (event) => log.info(`host ${event.from} → ${event.to}: ${event.reason}`));
  controller?.on('share', () => {
    tray.refreshMenu();
    void watcher.poll();
  });
}

/** Each poll colours the tray (and, attached, a silent host makes the app look at the home again); notifications become native ones. */
function wireWatcher(s: Shell): void {
  s.watcher.on('status', ({ status, health }) => {
    s.lastStatus = status;
    if (!s.controller && !status) s.home.reclaim();
    const changed = health.state !== s.tray.state;
    s.tray.show(health.state, health.reasons);
    if (changed) s.tray.refreshMenu();
  });
  s.watcher.on('notification', (spec: NotificationSpec) => {
    notifySpec(s, spec);
    s.log.info(`notified: ${spec.title}`);
  });
}

/**
 * A native notification where the OS has them (`silent` but for health turning red); a sign-in waiting
 * gets Approve / Deny and a click that opens the Team tab, each decided by main/core/notification-actions.ts.
 */
function notifySpec(s: Shell, spec: NotificationSpec): void {
  if (!Notification.isSupported()) return;
  const plan = notificationPlan(spec, process.platform);
  const notification = new Notification({ title: spec.title, body: spec.body, silent: spec.kind !== 'health-red', actions: plan.actions });
  const act = (choice: NotificationChoice | null) => {
    if (!choice || !spec.approvalId) return;
    void performChoice(choice, spec.approvalId, { api: () => s.home.currentApi(), openTeamTab: s.openTeamTab }).then((outcome) =>
      s.log.info(`sign-in ${spec.approvalId}: ${outcome.done}${'message' in outcome ? ` (${outcome.message})` : ''}`));
  };
  // Held until it closes: a notification Electron has garbage-collected delivers no click or action.
  shown.add(notification);
  if (shown.size > 50) shown.delete(shown.values().next().value!);
  notification.on('close', () => shown.delete(notification));
  notification.on('action', (event) => act(choiceAt(plan, event.actionIndex)));
  notification.on('click', () => act(plan.click));
  notification.show();
}

const shown = new Set<Notification>();

function createShellTray(shell: () => Shell): TrayView {
  return createTrayView({
    iconsDir: ICONS,
    facts: () => {
      const s = shell();
      return {
        reasons: s.lastStatus?.health?.reasons ?? [],
        home: s.home.claim,
        sharing: sharing(s),
        canOpenDashboard: linkOf(s) !== null,
        openAtLogin: openAtLogin(),
      };
    },
    onAction: (action, checked) => void onTrayAction(shell(), action, checked),
  });
}

async function onTrayAction(s: Shell, action: Exclude<TrayAction, 'quit'>, checked: boolean): Promise<void> {
  if (action === 'toggle-share') return toggleShare(s);
  if (action === 'open-dashboard') {
    const link = linkOf(s);
    if (link) void shell.openExternal(dashboardLinkUrl(link));
    return;
  }
  setOpenAtLogin(checked);
  s.tray.refreshMenu();
}

const sharing = (s: Shell): boolean => isSharing(s.controller?.share.state.state ?? null, s.lastStatus);
const linkOf = (s: Shell) => hostLink(s.controller, s.home.claim);

async function toggleShare(s: Shell): Promise<void> {
  const { controller, home } = s;
  try {
    // Attached, the running host forwards the request to its own controller.
    if (!sharing(s)) await (controller ? controller.share.start({ mode: 'quick' }) : home.currentApi().startShare({ mode: 'quick' }));
    else await (controller ? controller.share.stop() : home.currentApi().stopShare());
  } catch (error) {
    s.log.warn(`share: ${(error as Error).message}`);
    notify('Sharing failed', (error as Error).message);
  }
  s.tray.refreshMenu();
}

/** After sleep the tunnel's connections are stale and the host may be wedged: check both. */
function wireResume({ controller, home, watcher, log }: Shell): void {
  powerMonitor.on('resume', () => {
    log.info('resumed from sleep: checking host and tunnel');
    void (async () => {
      // Attached, the `harbor serve` that owns the host and tunnel checks them itself.
      if (controller) {
        await controller.share.checkAlive().catch((error: Error) => log.warn(`tunnel check: ${error.message}`));
        try {
          await home.currentApi().status();
        } catch {
          await controller.restart('not answering after sleep');
        }
      }
      await watcher.poll();
    })();
  });
}

/** Quitting stops every child (host, its upstreams, cloudflared) before the process exits. */
function wireQuit({ controller, watcher, log }: Shell, unregister: () => void): void {
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
}

async function startOwnHost(s: Shell, controller: HostController): Promise<void> {
  try {
    await controller.start();
  } catch (error) {
    const message = (error as Error).message;
    s.log.error(`host failed to start: ${message}`);
    s.tray.show('red', [firstLine(message)]);
    notify('Harbor could not start', firstLine(message));
  }
}

/** Attached (or the other Harbor still starting): nothing of ours to start; say so in the tray. */
async function showAttached(s: Shell): Promise<void> {
  const note = appHomeNote(s.home.claim)!;
  s.log.info(note);
  s.tray.show('amber', [note]);
  s.tray.refreshMenu();
  void s.watcher.poll();
}

/** A native notification where the OS has them; `silent` set only when given (else Electron's default). */
function notify(title: string, body: string, silent?: boolean): void {
  if (Notification.isSupported()) new Notification({ title, body, ...(silent === undefined ? {} : { silent }) }).show();
}
