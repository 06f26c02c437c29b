import { formatMs } from '../format.ts';
import type { HostedServerStatus } from '../host-api.ts';

/**
 * The calls column of a server with a queue or copies (upstream-pool.ts): running of the cap, waiting,
 * the p95 wait, and copies resting after a rate limit; '–' for a server without one.
 */
export function callsSummary(server: HostedServerStatus): string {
  const pool = server.pool;
  if (!pool) return '–';
  const { queue, copies } = pool;
  const parts = [`${queue.running}${queue.maxConcurrent === null ? '' : ` / ${queue.maxConcurrent}`} running`, `${queue.queued} waiting`];
  if (queue.waitP95Ms !== null) parts.push(`p95 wait ${formatMs(queue.waitP95Ms)}`);
  const resting = copies.filter((c) => c.restingForMs !== null).length;
  if (copies.length > 1 || resting > 0) parts.push(`${copies.length - resting}/${copies.length} copies ready`);
  return parts.join(' · ');
}
