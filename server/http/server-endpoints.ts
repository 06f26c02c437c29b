import { parseServerPath, serverPath, type ServerEndpoint } from '../access/server-url.ts';
import { safeDecode, type EndpointRequest } from './auth-guards.ts';
import type { RequestPlace } from './place-guards.ts';
import type { ServerCall } from './access-guards.ts';
import { openLegacyStream, postLegacyMessage } from './legacy-sse.ts';
import { byMethod, type Handler, type PathMatcher } from './route-table.ts';
import { handleStreamableDelete, handleStreamableGet, handleStreamablePost, type EndpointContext } from './streamable-endpoint.ts';

/**
 * A hosted server's endpoints by what the path named, each answering its methods (the table's 405 for
 * others): `mcp` is Streamable HTTP, both eras on its POST (modern-post.ts); `sse` and `messages` the
 * 2024-11-05 HTTP+SSE pair. The handlers write to the raw response: SSE streams stay open on it.
 */
export function serverEndpoints(ctx: EndpointContext): Handler<ServerCall> {
  const endpoints: Record<ServerEndpoint, Handler<ServerCall>> = {
    mcp: byMethod({
      GET: (req, res, call) => handleStreamableGet(req, res, call.hosted, call.caller, ctx),
      POST: (req, res, call) => handleStreamablePost(req, res, call.hosted, call.caller, ctx),
      DELETE: (req, res, call) => handleStreamableDelete(req, res, call.hosted, call.caller, ctx),
    }),
    sse: byMethod({ GET: (_req, res, call) => openLegacyStream(res, call.hosted, call.caller, messagesPath(call), ctx) }),
    messages: byMethod({
      POST: (req, res, call) => postLegacyMessage(req, res, call.hosted, call.caller, call.url.searchParams.get('sessionId'), ctx),
    }),
  };
  return (req, res, call) => endpoints[call.route.endpoint](req, res, call);
}

/** The POST address in the form the stream was opened by, so a proxy rule written for it holds. */
function messagesPath({ hosted, route }: ServerCall): string {
  const token = route.pathToken !== undefined ? { token: safeDecode(route.pathToken) ?? '' } : {};
  return serverPath(hosted.name, { endpoint: 'messages', kindFirst: route.kindFirst, ...token });
}

/** `/<name>/mcp`, `/mcp/<name>`, … each optionally behind `/t/<token>` (server-url.ts), for any name: hosted or not is the guards' to say. */
export function serverEndpointPath(servers: ReadonlyMap<string, unknown>): PathMatcher<RequestPlace, EndpointRequest> {
  const isHosted = (name: string) => servers.has(name);
  return (place) => {
    const route = parseServerPath(place.path, isHosted);
    return route && { url: place.url, route };
  };
}
