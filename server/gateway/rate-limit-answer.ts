import { parseResetDuration } from '../upstream-api/retry-timing.ts';
import { isJsonObject, type JsonRpcResponse } from './jsonrpc.ts';

/** What a tool result's text must match to count as "the API behind this server rate-limited it". */
export const DEFAULT_RATE_LIMIT_PATTERN = '429|rate.?limit|too many requests';

export interface RateLimitSignal {
  /** The wait the answer names ("retry after 2s", `data.retryAfter`), ms; undefined: back off on our own. */
  retryAfterMs: number | undefined;
}

/**
 * Whether a hosted server's answer says it was rate-limited: a tool result with `isError` whose text
 * matches `pattern`, or a JSON-RPC error carrying HTTP 429 in its data (`status`, `statusCode`,
 * `httpStatus` or `code` 429). Null for any other answer. A stdio server has no headers: the wait is
 * read from the text ("retry after 1s", "Retry-After: 30", "try again in 20 seconds") or from
 * `data.retryAfter` / `data.retryAfterMs`.
 */
export function rateLimitSignal(response: JsonRpcResponse, pattern: RegExp): RateLimitSignal | null {
  if (response.error) {
    const data = response.error.data;
    if (!isJsonObject(data) || ![data.status, data.statusCode, data.httpStatus, data.code].includes(429)) return null;
    const ms = typeof data.retryAfterMs === 'number' ? data.retryAfterMs : typeof data.retryAfter === 'number' ? data.retryAfter * 1000 : undefined;
    return { retryAfterMs: ms ?? waitNamedIn(response.error.message) };
  }
  const result = response.result;
  if (!isJsonObject(result) || result.isError !== true) return null;
  const text = resultText(result);
  if (!pattern.test(text)) return null;
  return { retryAfterMs: waitNamedIn(text) };
}

/** The text parts of a tool result, joined (capped: a pattern runs over it). */
function resultText(result: Record<string, unknown>): string {
  const content = Array.isArray(result.content) ? result.content : [];
  return content
    .map((part) => (isJsonObject(part) && typeof part.text === 'string' ? part.text : ''))
    .join('\n')
    .slice(0, 4096);
}

const WAIT_PHRASE = /(?:retry[- ]?after|try again in|retry in|reset(?:s)? in)\s*:?\s*(\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|sec(?:onds?)?|m|min(?:utes?)?|h)?)/i;

/** "retry after 1s" → 1000; a bare number is seconds (as in Retry-After). Capped at an hour. */
export function waitNamedIn(text: string): number | undefined {
  const match = WAIT_PHRASE.exec(text);
  if (!match) return undefined;
  const spoken = match[1]!.replace(/\s+/g, '').toLowerCase()
    .replace(/milliseconds?$/, 'ms').replace(/(sec(onds?)?)$/, 's').replace(/min(utes?)?$/, 'm');
  const ms = parseResetDuration(spoken);
  return ms === undefined ? undefined : Math.min(ms, 3_600_000);
}
