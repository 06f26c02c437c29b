import { join } from 'node:path';

/**
 * The tray image for a health state. macOS gets template images (black + alpha, tinted by the menu bar;
 * the states differ in shape), other systems coloured ones. Electron picks the @2x file itself.
 */
export type TrayState = 'green' | 'amber' | 'red';

export function trayIconFile(state: TrayState, platform: NodeJS.Platform, iconsDir: string): string {
  return join(iconsDir, `tray-${state}${platform === 'darwin' ? 'Template' : ''}.png`);
}

const TITLES: Record<TrayState, string> = { green: 'Harbor: healthy', amber: 'Harbor: needs attention', red: 'Harbor: down' };

/** Tooltips are short on every OS (Windows cuts at 127 characters): the state and the first reasons. */
export function trayTooltip(state: TrayState, reasons: readonly string[], maxLength = 127): string {
  const text = [TITLES[state], ...reasons].join('\n');
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}
