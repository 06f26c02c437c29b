import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBoundedJson } from '../gateway/bounded-json.ts';
import { ErrorCode, validateMessage, type JsonRpcMessage } from '../gateway/jsonrpc.ts';
import { sendError } from './http-errors.ts';
import { BodyTooLargeError, readBody, sendBodyTooLarge } from './read-body.ts';

export type ParsedBody =
  | { ok: true; messages: JsonRpcMessage[]; batch: boolean }
  | { ok: false; status: number; code: number; message: string };

const MAX_BATCH = 100;

/**
 * Parses a POST body into JSON-RPC messages: -32700 for broken JSON, -32600 for a bad envelope or for
 * nesting past the depth bound (valid JSON, but no MCP message is that deep, and everything that walks
 * it later — stringify on the upstream write path, the router's rewriting — would overflow the stack).
 */
export function parseMessages(body: string): ParsedBody {
  const parsed = parseBoundedJson(body);
  if (!parsed.ok) {
    return parsed.tooDeep
      ? { ok: false, status: 400, code: ErrorCode.InvalidRequest, message: `Invalid request: ${parsed.reason}` }
      : { ok: false, status: 400, code: ErrorCode.ParseError, message: `Parse error: ${parsed.reason}` };
  }
  const value = parsed.value;
  const batch = Array.isArray(value);
  const items = batch ? (value as unknown[]) : [value];
  if (items.length === 0) return { ok: false, status: 400, code: ErrorCode.InvalidRequest, message: 'empty batch' };
  if (items.length > MAX_BATCH) {
    return { ok: false, status: 400, code: ErrorCode.InvalidRequest, message: `a batch holds at most ${MAX_BATCH} messages` };
  }
  for (const item of items) {
    const problem = validateMessage(item);
    if (problem) return { ok: false, status: 400, code: ErrorCode.InvalidRequest, message: `Invalid request: ${problem}` };
  }
  return { ok: true, messages: items as JsonRpcMessage[], batch };
}

/**
 * Reads and parses a POST body of JSON-RPC messages; on any problem answers the request itself
 * (413, 400 with -32700 or -32600) and returns null.
 */
export async function readMessages(
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<{ messages: JsonRpcMessage[]; batch: boolean } | null> {
  let body: string;
  try {
    body = await readBody(req, maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendBodyTooLarge(res, error);
    else sendError(res, 400, 'could not read the request body');
    return null;
  }
  const parsed = parseMessages(body);
  if (!parsed.ok) {
    sendError(res, parsed.status, parsed.message, { code: parsed.code });
    return null;
  }
  return parsed;
}
