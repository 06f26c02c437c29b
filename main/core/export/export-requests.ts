import type { ExportIpc } from '../../../server/host-main.ts';
import { ExportError, writeBundle } from './write-bundle.ts';

type ExportRequestMessage = Extract<ExportIpc, { type: 'export-request' }>;
type ExportReplyMessage = Extract<ExportIpc, { type: 'export-reply' }>;

export function isExportRequest(message: unknown): message is ExportRequestMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'export-request';
}

/**
 * The supervisor's side of "Move to a server…": the host relays POST /admin/export here, and the
 * export runs with the same code as `harbor export`, on this home's config and store. One at a time:
 * two exports into one folder would interleave their files, and a second click is a mistake anyway.
 */
export function exportAnswerer(paths: { configFile: string; databaseFile: string }): (message: ExportRequestMessage) => Promise<ExportReplyMessage> {
  let running = false;
  return async ({ id, request }) => {
    if (running) return { type: 'export-reply', id, error: 'an export is already running; wait for it to finish', status: 409 };
    running = true;
    try {
      const result = await writeBundle({ dir: request.dir, withTokens: request.withTokens === true, force: request.force === true, ...paths });
      return { type: 'export-reply', id, result };
    } catch (error) {
      return { type: 'export-reply', id, error: (error as Error).message, status: error instanceof ExportError ? error.status : 500 };
    } finally {
      running = false;
    }
  };
}
