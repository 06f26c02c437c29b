import { SERVER_NAME_SOURCE } from '../gateway/server-name.ts';

/**
 * A hosted server's addresses, both ways: the one function that builds the URL Harbor hands out
 * (bundles, snippets, the CLI, invites, the OAuth resource) and the parser the host routes with, so
 * the two never drift.
 *
 * Clients infer the transport from the path (the Inspector: a path ending in `/mcp` is Streamable
 * HTTP, `/sse` is legacy SSE), so the handed-out form names the server first: `/<name>/mcp`,
 * `/<name>/sse` (its POSTs go to `/<name>/messages`), optionally behind `/t/<token>` for clients that
 * take only a URL. The first form Harbor shipped, `/mcp/<name>` (and `/sse/<name>`,
 * `/messages/<name>`), keeps routing so no teammate's config breaks; it is never handed out again.
 */

/** `mcp`: Streamable HTTP (both eras); `sse` and `messages`: the 2024-11-05 HTTP+SSE pair. */
export type ServerEndpoint = 'mcp' | 'sse' | 'messages';

export interface ServerPathOptions {
  endpoint?: ServerEndpoint;
  /** The teammate's token in the path (`/t/<token>/…`), for URL-only clients. A secret. */
  token?: string;
  /** The first form (`/mcp/<name>`): only to answer a request that came that way, never to hand out. */
  kindFirst?: boolean;
}

/** The path of a server's endpoint, its name percent-encoded (names are URL-safe, tokens need not be). */
export function serverPath(server: string, options: ServerPathOptions = {}): string {
  const endpoint = options.endpoint ?? 'mcp';
  const name = encodeURIComponent(server);
  const tail = options.kindFirst ? `/${endpoint}/${name}` : `/${name}/${endpoint}`;
  return options.token === undefined ? tail : `/t/${encodeURIComponent(options.token)}${tail}`;
}

/**
 * A server's URL under a base (`http://127.0.0.1:7837`, `https://x.trycloudflare.com`, or a base with
 * a path prefix of its own behind a proxy). The base must carry no credentials, query or fragment.
 */
export function serverUrl(baseUrl: string, server: string, options: Omit<ServerPathOptions, 'kindFirst'> = {}): string {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new TypeError(`not a URL: ${baseUrl}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${baseUrl}`);
  if (base.username || base.password || base.search || base.hash) {
    throw new TypeError('the base URL must not carry credentials, a query or a fragment');
  }
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}${serverPath(server, options)}`;
}

export interface ServerRoute {
  server: string;
  endpoint: ServerEndpoint;
  /** The raw (still percent-encoded) token segment, when the path carried one. */
  pathToken?: string;
  /** The request came by the first form, `/mcp/<name>`. */
  kindFirst: boolean;
}

const ENDPOINTS = '(mcp|sse|messages)';
const NAME = `(${SERVER_NAME_SOURCE})`;
const TOKEN = '(?:/t/([^/]{1,200}))?';
const NAME_FIRST = new RegExp(`^${TOKEN}/${NAME}/${ENDPOINTS}/?$`);
const KIND_FIRST = new RegExp(`^${TOKEN}/${ENDPOINTS}/${NAME}/?$`);

/**
 * Which server and endpoint a request path names, or null. A path both forms read (`/mcp/sse`: server
 * "mcp" over SSE, or server "sse" over Streamable HTTP) goes to the reading whose server is hosted,
 * the handed-out form first when both are: that is the URL every bundle carries.
 */
export function parseServerPath(path: string, isHosted: (name: string) => boolean): ServerRoute | null {
  const nameFirst = NAME_FIRST.exec(path);
  const kindFirst = KIND_FIRST.exec(path);
  const fromNameFirst = nameFirst && route(nameFirst[1], nameFirst[2]!, nameFirst[3] as ServerEndpoint, false);
  const fromKindFirst = kindFirst && route(kindFirst[1], kindFirst[3]!, kindFirst[2] as ServerEndpoint, true);
  if (fromNameFirst && fromKindFirst) return isHosted(fromNameFirst.server) || !isHosted(fromKindFirst.server) ? fromNameFirst : fromKindFirst;
  return fromNameFirst ?? fromKindFirst;
}

function route(pathToken: string | undefined, server: string, endpoint: ServerEndpoint, kindFirst: boolean): ServerRoute {
  return { server, endpoint, kindFirst, ...(pathToken !== undefined ? { pathToken } : {}) };
}
