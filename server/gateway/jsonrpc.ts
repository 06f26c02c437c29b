/** Minimal JSON-RPC 2.0 shapes. The gateway forwards messages rather than modelling each MCP method. */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: JsonRpcError;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Harbor: the upstream server is down, restarting or timed out. */
  UpstreamUnavailable: -32001,
  /** Harbor: the request was refused by a limit (rate, sessions, queue). */
  LimitExceeded: -32002,
  /** Harbor: the origin of a server→client request cannot be proven. */
  AmbiguousOrigin: -32003,
} as const;

// The classifiers are safe on any value (a hosted server or a client may send anything); a value
// they accept still needs validateMessage for its field types.
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isRequest(message: unknown): message is JsonRpcRequest {
  return isJsonObject(message) && typeof message.method === 'string' && message.id !== undefined;
}

export function isNotification(message: unknown): message is JsonRpcNotification {
  return isJsonObject(message) && typeof message.method === 'string' && message.id === undefined;
}

export function isResponse(message: unknown): message is JsonRpcResponse {
  return isJsonObject(message) && !('method' in message) && ('result' in message || 'error' in message);
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcError = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** Checks the envelope of one message from an untrusted peer; returns a reason when it is not JSON-RPC 2.0. */
export function validateMessage(value: unknown): string | null {
  if (!isJsonObject(value)) return 'a message must be a JSON object';
  const m = value;
  if (m.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) return 'method must be a non-empty string';
    if ('id' in m && !isId(m.id)) return 'id must be a string or a number';
    if ('params' in m && m.params !== undefined && (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params))) {
      return 'params must be an object';
    }
    return null;
  }
  if (!('id' in m) || !(isId(m.id) || m.id === null)) return 'a response needs an id';
  if (!('result' in m) && !('error' in m)) return 'a message needs a method, a result or an error';
  return null;
}
