/**
 * The popover's only door to Harbor: `window.harbor`, each HostApi method forwarded to main with
 * `ipcRenderer.invoke('harbor:<method>', ...args)`. Nothing else (no ipcRenderer, no Node) reaches the page.
 *
 * A sandboxed preload is a CommonJS script that may `require` only 'electron' and a few built-ins, not
 * files of its own, so the method list is written out here; test/unit/preload.test.ts checks it equals
 * HOST_API_METHODS of the HostApi contract (server/admin/host-api.ts).
 */
const { contextBridge, ipcRenderer } = require('electron') as typeof import('electron');

const METHODS = [
  'status',
  'metrics',
  'metricsHistory',
  'teammates',
  'addTeammate',
  'revokeTeammate',
  'approvals',
  'approve',
  'deny',
  'signIns',
  'activity',
  'connections',
  'logs',
  'share',
  'startShare',
  'stopShare',
  'addServer',
  'removeServer',
  'restartServer',
  'setDocsFolder',
  'exportBundle',
  'chooseFolder',
] as const;

const bridge: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
for (const method of METHODS) bridge[method] = (...args: unknown[]) => ipcRenderer.invoke(`harbor:${method}`, ...args);

contextBridge.exposeInMainWorld('harbor', Object.freeze(bridge));
