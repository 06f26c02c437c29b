import type { UnreadableLine } from './upstream-line.ts';

/**
 * Which of the requests in flight a line the upstream refused was the answer to, so that caller
 * hears at once instead of at its timeout: the gateway id the line named, if it could be read. An
 * answer whose id could not be read is attributed only when exactly one request is in flight (then it
 * can only be that one); with several, failing any would be a guess that could fail the wrong
 * teammate's call, so they keep waiting for their own answers or timeouts.
 */
export function unreadableAnswerId(line: UnreadableLine, inFlight: readonly number[]): number | undefined {
  if (typeof line.id === 'number') return line.id;
  if (line.id === undefined && line.response && inFlight.length === 1) return inFlight[0];
  return undefined;
}
