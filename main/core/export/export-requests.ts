import type { ExportIpc } from '../../../server/host-main.ts';

type ExportRequestMessage = Extract<ExportIpc, { type: 'export-request' }>;
type ExportReplyMessage = Extract<ExportIpc, { type: 'export-reply' }>;

export function isExportRequest(message: unknown): message is ExportRequestMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'export-request';
}

/**
 * The supervisor's side of "Move to a server…": the host relays POST /admin/export here, and the
 * export runs with the same code as `harbor export`, on this home's config and store. One at a time:
 * two exports into one folder would interleave their files, and a second click is a mistake anyway.
 *
 * The bundle's code (zod schemas, SQLite, templates: about 12 MB of RSS) is loaded on the first export,
 * not when the supervisor starts: the controller that relays the request has no other use for it.
 */
export function exportAnswerer(paths: { configFile: string; databaseFile: string }): (message: ExportRequestMessage) => Promise<ExportReplyMessage> {
  let running = false;
  return async ({ id, request }) => {
    if (running) return { type: 'export-reply', id, error: 'an export is already running; wait for it to finish', status: 409 };
    running = true;
    try {
      const bundle = await import('./write-bundle.ts');
      try {
        const result = await bundle.writeBundle({ dir: request.dir, withTokens: request.withTokens === true, force: request.force === true, ...paths });
        return { type: 'export-reply', id, result };
      } catch (error) {
        return { type: 'export-reply', id, error: (error as Error).message, status: error instanceof bundle.ExportError ? error.status : 500 };
      }
    } catch (error) {
      // The bundle's code could not be loaded (a broken install): an answer, never an unhandled rejection.
      return { type: 'export-reply', id, error: (error as Error).message, status: 500 };
    } finally {
      running = false;
    }
  };
}
