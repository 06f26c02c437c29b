import type { IncomingMessage } from 'node:http';
import { sendError } from './http-errors.ts';
import { isForwarded, isLoopbackPeer, type RequestGuard } from './request-guard.ts';
import type { Guard } from './route-table.ts';

/** Where a request is going and where it comes from: what every route of the host reads first. */
export interface RequestPlace {
  url: URL;
  path: string;
  /** This machine's own user: a loopback peer and no proxy or tunnel header. */
  local: boolean;
}

/** The request's URL, or a 400 when it cannot be read. */
export const readPlace: Guard<unknown, RequestPlace> = (req, res) => {
  const url = requestUrl(req);
  if (!url) {
    sendError(res, 400, 'Bad Request: malformed URL');
    return null;
  }
  return { url, path: url.pathname, local: isLoopbackPeer(req) && !isForwarded(req) };
};

function requestUrl(req: IncomingMessage): URL | null {
  try {
    // Concatenated, not resolved: a path like `//evil` must stay a path, not become a host.
    return new URL(`http://localhost${req.url?.startsWith('/') ? req.url : '/'}`);
  } catch {
    return null;
  }
}

/** Host and Origin name this server (DNS-rebinding protection, request-guard.ts), else a 403. */
export function allowedHostAndOrigin(guard: RequestGuard): Guard<RequestPlace, RequestPlace> {
  return (req, res, place) => {
    const check = guard.check(req);
    if (check.ok) return place;
    sendError(res, 403, `Forbidden: ${check.reason}`);
    return null;
  };
}

/** This machine's own user only, else a 403 saying so. */
export function loopbackOnly(refusal: string): Guard<RequestPlace, RequestPlace> {
  return (_req, res, place) => {
    if (place.local) return place;
    sendError(res, 403, `Forbidden: ${refusal}`);
    return null;
  };
}
