/*
 * When an upstream API says to try again. Without such a header the caller backs off on its own
 * (server/supervision/backoff.ts, with full jitter).
 */

/**
 * The wait a response asks for, in ms: `retry-after-ms` (OpenAI, Azure), then `Retry-After` as
 * seconds or an HTTP date. Undefined when absent or unparseable.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Parses a rate-limit reset such as OpenAI's `x-ratelimit-reset-requests`: "1s", "6m0s", "20ms",
 * "1h2m3.5s", or a bare number of seconds. Undefined when unparseable.
 */
export function parseResetDuration(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(match[1]) * units[match[2]!]!;
    consumed += match[0].length;
  }
  return consumed === text.length && consumed > 0 ? Math.ceil(total) : undefined;
}
