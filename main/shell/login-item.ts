import { app } from 'electron';
import { autostartCommand } from '../core/autostart-command.ts';
import { isLinuxAutostartEnabled, setLinuxAutostart } from './autostart-linux.ts';

/** Start at login: an XDG autostart entry on Linux (Electron has no API there), the OS login item elsewhere. */
const AUTOSTART_ID = 'harbor';

export function openAtLogin(): boolean {
  return process.platform === 'linux' ? isLinuxAutostartEnabled(AUTOSTART_ID) : app.getLoginItemSettings().openAtLogin;
}

export function setOpenAtLogin(enabled: boolean): void {
  if (process.platform !== 'linux') {
    app.setLoginItemSettings({ openAtLogin: enabled });
    return;
  }
  const exec = autostartCommand({ appImage: process.env.APPIMAGE, isPackaged: app.isPackaged, execPath: process.execPath, appPath: app.getAppPath() });
  setLinuxAutostart(enabled, { id: AUTOSTART_ID, name: 'Harbor', comment: 'Share your MCP servers with your team', exec });
}
