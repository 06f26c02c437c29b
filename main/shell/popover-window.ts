import { BrowserWindow, screen, shell, type Rectangle } from 'electron';
import { APP_SCHEME, POPOVER_URL } from './app-protocol.ts';
import { popoverPosition } from './popover-position.ts';

/** The popover: a frameless window with the renderer, shown under the tray icon, hidden when it loses focus. */
const POPOVER_SIZE = { width: 420, height: 600 };

export function createPopover(preload: string): BrowserWindow {
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
    webPreferences: { preload, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false },
  });
  window.on('blur', () => {
    if (!window.webContents.isDevToolsOpened()) window.hide();
  });
  guardNavigation(window);
  void window.loadURL(POPOVER_URL);
  return window;
}

/** The popover never navigates or opens windows; links go to the user's browser. */
function guardNavigation(window: BrowserWindow): void {
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
}

/** Shows the popover on a tab (`?tab=`, as the renderer reads it), e.g. the Team tab for a sign-in waiting. */
export function showPopoverTab(popover: BrowserWindow, trayBounds: Rectangle, tab: string): void {
  void popover.loadURL(`${POPOVER_URL}?tab=${encodeURIComponent(tab)}`);
  if (!popover.isVisible()) togglePopover(popover, trayBounds);
}

/** Hides a shown popover; shows a hidden one next to the tray icon (popover-position.ts), on that icon's display. */
export function togglePopover(popover: BrowserWindow, trayBounds: Rectangle): void {
  if (popover.isVisible()) {
    popover.hide();
    return;
  }
  const display = screen.getDisplayNearestPoint({ x: trayBounds.x, y: trayBounds.y });
  const { x, y } = popoverPosition(trayBounds, POPOVER_SIZE, display.workArea);
  popover.setPosition(x, y, false);
  popover.show();
  popover.focus();
}
