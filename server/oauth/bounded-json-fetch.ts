import http from 'node:http';
import https from 'node:https';
import { guardedLookup, isLoopbackAddress, literalAddress, RefusedAddressError, refusedAddress, type AddressPolicy } from './outbound-address-policy.ts';

/**
 * GET of a small JSON document at a URL a stranger chose (a client's metadata document), bounded in
 * every way a hostile server could stretch it: one deadline for connect, TLS, headers and body; a
 * size cap checked against Content-Length and again while reading; no redirect followed; only 200
 * with a JSON media type; https only (plain http only to a loopback IP with `allowLoopback`); no
 * connection to a private or special-use address (outbound-address-policy.ts).
 *
 * node:https rather than fetch(): fetch (undici) takes a custom DNS lookup only through undici's own
 * Agent, which Harbor does not depend on directly; node:https takes `lookup` per request, and the
 * address it checks is the one the socket connects to.
 */

export interface BoundedFetchOptions extends AddressPolicy {
  timeoutMs: number;
  maxBytes: number;
  /** Extra trusted certificate authorities (PEM): a test's self-signed server. Default: the system's. */
  ca?: string | undefined;
}

export interface FetchedJson {
  body: unknown;
  /** The response's Cache-Control header, for the caller's cache. */
  cacheControl: string | undefined;
}

/** Why the document could not be had, in words fit for an OAuth error_description. */
export class FetchRefusedError extends Error {
  override name = 'FetchRefusedError';
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

export async function fetchJsonDocument(url: URL, options: BoundedFetchOptions): Promise<FetchedJson> {
  checkTarget(url, options);
  const signal = AbortSignal.timeout(options.timeoutMs);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<FetchedJson>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      request.destroy();
      reject(new FetchRefusedError(message));
    };
    const request = client.request(url, {
      method: 'GET',
      headers: { Accept: 'application/json', 'User-Agent': 'Harbor (client metadata document fetch)' },
      lookup: guardedLookup(options),
      signal,
      agent: false,
      ...(options.ca && url.protocol === 'https:' ? { ca: options.ca } : {}),
    });
    request.on('error', (error: Error) => {
      if (error instanceof RefusedAddressError) return fail(`refused to connect: ${error.message}`);
      if (signal.aborted) return fail(`no answer within ${options.timeoutMs} ms`);
      fail(`could not be fetched: ${error.message}`);
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return fail(`answered HTTP ${status}: redirects are not followed`);
      if (status !== 200) return fail(`answered HTTP ${status}, not 200`);
      const type = (response.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (!JSON_MEDIA_TYPE.test(type)) return fail(`is not JSON (Content-Type ${type.slice(0, 60) || 'missing'})`);
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) return fail(`is larger than ${options.maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) return fail(`is larger than ${options.maxBytes} bytes`);
        chunks.push(chunk);
      });
      response.on('error', () => fail(signal.aborted ? `no answer within ${options.timeoutMs} ms` : 'was cut off'));
      response.on('end', () => {
        if (settled) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail('is not valid JSON');
        }
        settled = true;
        resolve({ body, cacheControl: response.headers['cache-control'] });
      });
    });
    request.end();
  });
}

/** The URL's scheme and, for an IP literal (which the socket does not look up), its address. */
function checkTarget(url: URL, options: BoundedFetchOptions): void {
  const literal = literalAddress(url.hostname);
  const devLoopbackHttp = url.protocol === 'http:' && options.allowLoopback && literal !== null && isLoopbackAddress(literal);
  if (url.protocol !== 'https:' && !devLoopbackHttp) throw new FetchRefusedError('must be an https URL');
  const refusal = literal === null ? null : refusedAddress(literal, options);
  if (refusal) throw new FetchRefusedError(`refused to connect: ${refusal}`);
}
