import { dialog, ipcMain, type BrowserWindow } from 'electron';
import { HOST_API_METHODS, IPC_CHANNEL_PREFIX, type FolderPurpose, type HostApi } from '../../server/admin/host-api.ts';

/**
 * Main's side of the preload bridge: `harbor:<method>` for each HostApi method and nothing else,
 * answered by the HTTP adapter against the host's admin API (with the per-launch secret, which never
 * reaches the renderer). Only the popover's own frames may call.
 */
export function registerHostApiHandlers(options: { api: () => HostApi; window: () => BrowserWindow | null; allowedUrlPrefix: string }): () => void {
  for (const method of HOST_API_METHODS) {
    ipcMain.handle(`${IPC_CHANNEL_PREFIX}${method}`, async (event, ...args: unknown[]) => {
      if (!event.senderFrame?.url.startsWith(options.allowedUrlPrefix)) throw new Error('not allowed from this page');
      if (method === 'chooseFolder') return chooseFolder(options.window(), args[0] === 'export' ? 'export' : 'docs');
      const api = options.api() as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return api[method]!(...args);
    });
  }
  return () => {
    for (const method of HOST_API_METHODS) ipcMain.removeHandler(`${IPC_CHANNEL_PREFIX}${method}`);
  };
}

const PICKER_TITLES: Record<FolderPurpose, string> = { docs: 'Team docs folder', export: 'Folder for the server bundle (empty)' };

async function chooseFolder(window: BrowserWindow | null, purpose: FolderPurpose): Promise<string | null> {
  const options = { title: PICKER_TITLES[purpose], properties: ['openDirectory' as const, 'createDirectory' as const] };
  const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}
