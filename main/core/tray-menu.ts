import type { AppHome } from './app-home.ts';

/**
 * The tray's menu as data: which items, their labels, what is enabled or checked. Electron-free so it
 * is tested under Node; main/shell/tray-view.ts turns it into a native Menu and binds each action.
 */
export type TrayAction = 'toggle-share' | 'open-dashboard' | 'toggle-open-at-login' | 'quit';

export type TrayMenuItem =
  | { kind: 'note'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; action: Exclude<TrayAction, 'toggle-open-at-login'>; label: string; enabled: boolean }
  | { kind: 'checkbox'; action: 'toggle-open-at-login'; label: string; checked: boolean };

export interface TrayMenuFacts {
  /** The tooltip's first line (tray-icons.ts trayTooltip): the health in words. */
  headline: string;
  home: AppHome;
  sharing: boolean;
  /** A host is there to open the dashboard of. */
  canOpenDashboard: boolean;
  openAtLogin: boolean;
}

export function trayMenuItems(facts: TrayMenuFacts): TrayMenuItem[] {
  return [
    { kind: 'note', label: facts.headline },
    ...homeNote(facts.home),
    { kind: 'separator' },
    { kind: 'action', action: 'toggle-share', label: facts.sharing ? 'Stop sharing' : 'Share with team', enabled: true },
    { kind: 'action', action: 'open-dashboard', label: 'Open dashboard', enabled: facts.canOpenDashboard },
    { kind: 'separator' },
    { kind: 'checkbox', action: 'toggle-open-at-login', label: 'Start at login', checked: facts.openAtLogin },
    { kind: 'separator' },
    { kind: 'action', action: 'quit', label: 'Quit Harbor', enabled: true },
  ];
}

/** A line saying whose Harbor this is when the app does not own the home. */
function homeNote(home: AppHome): TrayMenuItem[] {
  if (home.mode === 'own') return [];
  return [{ kind: 'note', label: home.mode === 'attached' ? `Attached to harbor serve (pid ${home.owner.pid})` : 'Waiting for the running Harbor' }];
}
