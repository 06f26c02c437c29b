import { protocol } from 'electron';
import { loadAppAsset } from '../../server/http/app-assets.ts';

/**
 * The popover loads the renderer from `harbor-app://ui/app/`, served from the same files and with the
 * same type stripping and CSP as the host's /app route, so the window works even while the host is
 * down (and is never an http page another local process could impersonate).
 */
export const APP_SCHEME = 'harbor-app';
export const POPOVER_URL = `${APP_SCHEME}://ui/app/`;

/** Must run before `app` is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

export function serveAppScheme(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'ui' || request.method !== 'GET') return new Response('Not found', { status: 404 });
    const asset = await loadAppAsset(url.pathname);
    return new Response(new Uint8Array(asset.body), {
      status: asset.status,
      headers: { 'Content-Type': asset.contentType, 'X-Content-Type-Options': 'nosniff' },
    });
  });
}
