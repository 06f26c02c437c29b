import { InvalidClientMetadataError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

/**
 * OAuth 2.1 redirect URIs a client may list (at registration or in its metadata document): https,
 * http on a loopback address (RFC 8252 7.3), or a private-use scheme of a native app (`cursor://…`).
 * No fragments, nothing that runs in a page. Throws InvalidClientMetadataError saying which.
 */
export function checkRedirectUris(uris: string[]): void {
  if (uris.length === 0 || uris.length > 10) throw new InvalidClientMetadataError('redirect_uris: 1 to 10 URIs');
  for (const uri of uris) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new InvalidClientMetadataError(`redirect_uris: not a URL: ${uri.slice(0, 100)}`);
    }
    if (uri.length > 2000 || url.hash) throw new InvalidClientMetadataError('redirect_uris: no fragments, at most 2000 characters');
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) continue;
    if (['http:', 'javascript:', 'data:', 'file:', 'blob:', 'vbscript:', 'about:'].includes(url.protocol)) {
      throw new InvalidClientMetadataError(`redirect_uris: ${url.protocol} is allowed only as https or http on a loopback address`);
    }
  }
}
