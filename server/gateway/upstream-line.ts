import { DEFAULT_MAX_JSON_DEPTH, parseBoundedJson } from './bounded-json.ts';
import { isJsonObject, validateMessage, type JsonRpcMessage } from './jsonrpc.ts';
import { peekTopLevel, trailingId, type Peek } from './message-peek.ts';

/**
 * A line from a hosted server that Harbor will not pass on, and what is known of the call it may
 * have answered. `id` is the gateway id it names, if it could be read; `response` says it looked
 * like an answer (a top-level result or error, no method), so the router may still attribute it.
 */
export interface UnreadableLine {
  reason: string;
  id: number | string | undefined;
  response: boolean;
}

export type UpstreamLine = { ok: true; message: JsonRpcMessage } | ({ ok: false } & UnreadableLine);

/**
 * Checks one complete stdout line once, where it is parsed: JSON, nested at most `maxDepth` deep, a
 * JSON-RPC 2.0 envelope. Everything past this point may assume a well-formed, shallow message.
 */
export function readUpstreamLine(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): UpstreamLine {
  const parsed = parseBoundedJson(text, maxDepth);
  const invalid = parsed.ok ? validateMessage(parsed.value) : null;
  if (parsed.ok && invalid === null) return { ok: true, message: parsed.value as JsonRpcMessage };
  const reason = parsed.ok ? `an invalid message (${invalid})` : parsed.tooDeep ? `a message ${parsed.reason}` : 'a line that is not JSON';
  // A line that parsed needs no scan; one that did not is scanned (linearly) for its top-level id.
  const peek = parsed.ok ? peekValue(parsed.value) : peekTopLevel(text);
  return { ok: false, reason, ...answered(peek, text) };
}

/**
 * What is known of a line over the limit: from its head alone the moment it crosses the limit (the
 * Python SDK writes the id near the start), from head and tail once its end has streamed past.
 */
export function readOversizedLine(head: string, tail: string, limit: number): UnreadableLine {
  return { reason: `a line longer than its limit of ${limit} bytes (maxLineBytes)`, ...answered(peekTopLevel(head), tail) };
}

/**
 * Which call a refused line answered. An id counts only on a line without a method: a request from
 * the server carries an id of its own, not one of Harbor's. Positive evidence only: a line whose
 * head shows neither (a first value too long to see past) is not taken for an answer.
 */
function answered(peek: Peek, tail: string): Pick<UnreadableLine, 'id' | 'response'> {
  if (peek.method || (peek.idSeen && peek.id === undefined)) return { id: undefined, response: false };
  const id = peek.id ?? trailingId(tail);
  return { id, response: peek.response || id !== undefined };
}

function peekValue(value: unknown): Peek {
  if (!isJsonObject(value)) return { id: undefined, idSeen: true, response: false, method: false };
  const id = typeof value.id === 'number' || typeof value.id === 'string' ? value.id : undefined;
  return { id, idSeen: 'id' in value, response: 'result' in value || 'error' in value, method: 'method' in value };
}
