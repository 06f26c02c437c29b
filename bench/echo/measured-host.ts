import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GCProfiler } from 'node:v8';
import { EVERYTHING, ROOT } from './gateways.ts';

/**
 * A Harbor host run in this process (a child of bench/alloc-per-call.ts, over IPC), from the built
 * dist/ with the bench's config (gateways.ts startHarbor: one shared server-everything, limits out of
 * the way, metrics on), so what the parent measures between two `mark`s is the host's own work: CPU
 * (user and system), bytes allocated, bytes promoted to the old generation, collections.
 *
 * Bytes allocated come from the collector's own heap statistics (v8.GCProfiler): what was used before
 * each collection minus what was left after the previous one, plus the growth since the last. No
 * sampling, no profiler in the way.
 */

export interface HostMark {
  cpuUserMs: number;
  cpuSystemMs: number;
  allocatedBytes: number;
  /** Old-generation growth during scavenges: what survived young collections twice. */
  promotedBytes: number;
  scavenges: number;
  fullCollections: number;
  gcMs: number;
}

type FromParent = { kind: 'mark' } | { kind: 'stop' };

const home = mkdtempSync(join(tmpdir(), 'harbor-alloc-'));
writeFileSync(
  join(home, 'config.json'),
  JSON.stringify({
    mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } },
    limits: { requestsPerSecond: 1_000_000, burst: 1_000_000, sessionsPerTeammate: 1_000 },
    metrics: { enabled: true },
  }),
);
const { startHost } = (await import(join(ROOT, 'dist/server/host.js'))) as typeof import('../../server/host.ts');
const { silentLogger } = (await import(join(ROOT, 'dist/server/logger.js'))) as typeof import('../../server/logger.ts');
const host = await startHost({ home, port: 0, log: silentLogger });
const { token } = host.tokens.issue('bench');

let profiler = new GCProfiler();
profiler.start();
let lastUsed = usedHeap();

function usedHeap(): number {
  return process.memoryUsage().heapUsed;
}

function oldUsed(spaces: Array<{ spaceName: string; spaceUsedSize: number }>): number {
  return spaces.filter((s) => s.spaceName === 'old_space' || s.spaceName === 'code_space' || s.spaceName === 'large_object_space').reduce((n, s) => n + s.spaceUsedSize, 0);
}

/** What the collector saw since the previous mark. */
function collected(): Omit<HostMark, 'cpuUserMs' | 'cpuSystemMs'> {
  const profile = profiler.stop();
  profiler = new GCProfiler();
  profiler.start();
  let allocatedBytes = 0;
  let promotedBytes = 0;
  let scavenges = 0;
  let fullCollections = 0;
  let gcMs = 0;
  let after = lastUsed;
  for (const gc of profile?.statistics ?? []) {
    allocatedBytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - after);
    after = gc.afterGC.heapStatistics.usedHeapSize;
    gcMs += gc.cost / 1000;
    if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') {
      scavenges++;
      promotedBytes += Math.max(0, oldUsed(gc.afterGC.heapSpaceStatistics) - oldUsed(gc.beforeGC.heapSpaceStatistics));
    } else if (gc.gcType === 'MarkSweepCompact') fullCollections++;
  }
  const now = usedHeap();
  allocatedBytes += Math.max(0, now - after);
  lastUsed = now;
  return { allocatedBytes, promotedBytes, scavenges, fullCollections, gcMs };
}

process.on('message', (message: FromParent) => {
  if (message.kind === 'stop') {
    profiler.stop();
    void host.close().finally(() => {
      rmSync(home, { recursive: true, force: true });
      process.exit(0);
    });
    return;
  }
  const gc = collected();
  const cpu = process.cpuUsage();
  process.send!({ kind: 'mark', mark: { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, ...gc } });
});
process.send!({ kind: 'ready', url: host.url, token });
