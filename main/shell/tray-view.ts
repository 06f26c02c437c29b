import { Menu, nativeImage, Tray, type MenuItemConstructorOptions } from 'electron';
import { trayMenuItems, type TrayAction, type TrayMenuFacts, type TrayMenuItem } from '../core/tray-menu.ts';
import { trayIconFile, trayTooltip, type TrayState } from './tray-icons.ts';

/**
 * The tray icon: its image and tooltip for a health state, and its menu (tray-menu.ts) rebuilt from the
 * facts of the moment. Holds the one piece of state the icon needs: the state it shows.
 */
export interface TrayView {
  readonly tray: Tray;
  readonly state: TrayState;
  /** A new image only when the state changes; the tooltip every time (the reasons may differ). */
  show(state: TrayState, reasons: readonly string[]): void;
  refreshMenu(): void;
}

export interface TrayViewOptions {
  iconsDir: string;
  /** The facts the menu shows, but its headline (from the shown state and these reasons). */
  facts: () => Omit<TrayMenuFacts, 'headline'> & { reasons: readonly string[] };
  onAction: (action: Exclude<TrayAction, 'quit'>, checked: boolean) => void;
}

export function createTrayView(options: TrayViewOptions): TrayView {
  let state: TrayState = 'amber';
  let menu: Menu | null = null;
  const tray = new Tray(trayImage('amber', options.iconsDir));
  tray.setToolTip('Harbor: starting…');
  tray.on('right-click', () => {
    if (menu) tray.popUpContextMenu(menu);
  });
  return {
    tray,
    get state() {
      return state;
    },
    show(next, reasons) {
      if (next !== state) tray.setImage(trayImage(next, options.iconsDir));
      state = next;
      tray.setToolTip(trayTooltip(next, reasons));
    },
    refreshMenu() {
      const { reasons, ...facts } = options.facts();
      const headline = trayTooltip(state, reasons).split('\n')[0]!;
      menu = Menu.buildFromTemplate(trayMenuItems({ headline, ...facts }).map((item) => nativeItem(item, options.onAction)));
      // Many Linux trays deliver no clicks, only the context menu: it must be set there.
      if (process.platform === 'linux') tray.setContextMenu(menu);
    },
  };
}

function nativeItem(item: TrayMenuItem, onAction: TrayViewOptions['onAction']): MenuItemConstructorOptions {
  switch (item.kind) {
    case 'note':
      return { label: item.label, enabled: false };
    case 'separator':
      return { type: 'separator' };
    case 'checkbox':
      return { label: item.label, type: 'checkbox', checked: item.checked, click: (menuItem) => onAction(item.action, menuItem.checked) };
    case 'action': {
      const action = item.action;
      if (action === 'quit') return { label: item.label, role: 'quit' };
      return { label: item.label, enabled: item.enabled, click: (menuItem) => onAction(action, menuItem.checked) };
    }
  }
}

function trayImage(state: TrayState, iconsDir: string) {
  const image = nativeImage.createFromPath(trayIconFile(state, process.platform, iconsDir));
  if (process.platform === 'darwin') image.setTemplateImage(true);
  return image;
}
