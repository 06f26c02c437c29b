import type { IncomingMessage } from 'node:http';

/** The token from `Authorization: Bearer <token>`, or null. Case-insensitive scheme, one space or more. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length > 1024) return null;
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
