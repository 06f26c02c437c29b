import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../gateway/jsonrpc.ts';

/** Every HTTP-level refusal carries a JSON-RPC error body, so MCP clients can show its message. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { code?: number; headers?: Record<string, string>; id?: string | number | null } = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  // A refusal of the request (4xx) is not an internal error: clients show -32603 as a host fault.
  const code = options.code ?? (status < 500 ? ErrorCode.InvalidRequest : ErrorCode.InternalError);
  const body = JSON.stringify({ jsonrpc: '2.0', id: options.id ?? null, error: { code, message } });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...options.headers,
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
