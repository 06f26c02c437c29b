import type { ClientPeer } from './client-peer.ts';
import type { JsonRpcResponse } from './jsonrpc.ts';

export interface CallEvent {
  session: ClientPeer;
  method: string;
  tool: string | undefined;
  durationMs: number;
  /** JSON-RPC error message, if the call failed at the protocol level. */
  error: string | undefined;
  /** The tool ran and reported failure (`isError: true`). */
  toolError: boolean;
  /** What the tool said when it failed: the text parts of its result (the audit log keeps the first 1000 chars). */
  toolErrorText?: string | undefined;
  /** Answered from the tool-result cache. */
  cached: boolean;
  /** Refused before it reached the server, by a full queue: audited once per window (call-recorder.ts), counted each. */
  refused?: 'queue_full';
}

/** The event of a call the upstream answered (or Harbor answered for it), for metrics and the audit log. */
export function answeredCallEvent(
  call: { session: ClientPeer; method: string; tool: string | undefined },
  response: JsonRpcResponse,
  durationMs: number,
): CallEvent {
  return {
    session: call.session,
    method: call.method,
    tool: call.tool,
    durationMs,
    error: response.error?.message,
    toolError: (response.result as { isError?: unknown } | undefined)?.isError === true,
    toolErrorText: toolErrorText(response.result),
    cached: false,
  };
}

/** The text a failed tool result carries (`isError: true`, text content parts), at most 2000 chars read; else undefined. */
export function toolErrorText(result: unknown): string | undefined {
  const { isError, content } = (result ?? {}) as { isError?: unknown; content?: unknown };
  if (isError !== true || !Array.isArray(content)) return undefined;
  const text = content
    .filter((part): part is { type: 'text'; text: string } => (part as { type?: unknown })?.type === 'text' && typeof (part as { text?: unknown }).text === 'string')
    .map((part) => part.text)
    .join('\n')
    .slice(0, 2000)
    .trim();
  return text || undefined;
}
