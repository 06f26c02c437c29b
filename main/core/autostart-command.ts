/**
 * The command a Linux autostart entry runs to start this app again at login. An AppImage runs from a
 * temporary mount, so the entry must name the AppImage file itself; a packaged app is its executable;
 * from source, Electron with the app's folder. Electron-free so it is tested under Node.
 */
export interface AppLaunch {
  /** $APPIMAGE, set when running from an AppImage. */
  appImage: string | undefined;
  isPackaged: boolean;
  execPath: string;
  appPath: string;
}

export function autostartCommand(launch: AppLaunch): string[] {
  if (launch.appImage) return [launch.appImage];
  return launch.isPackaged ? [launch.execPath] : [launch.execPath, launch.appPath];
}
