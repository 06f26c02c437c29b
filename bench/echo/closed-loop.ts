import { performance } from 'node:perf_hooks';

/**
 * Closed-loop load: every caller issues one call, waits for it, issues the next. Calls finished during
 * the warm-up are not counted; the measured window is fixed in time, and each caller is also capped in
 * calls so a very fast target cannot make the run unbounded in memory.
 */

export type Call = (caller: number, seq: number) => Promise<void>;

export interface LoadOptions {
  callers: number;
  warmupMs: number;
  durationMs: number;
  maxCallsPerCaller: number;
}

export interface LoadResult {
  callers: number;
  calls: number;
  errors: number;
  /** First error messages, deduplicated, for the report. */
  errorSamples: string[];
  elapsedMs: number;
  throughputPerSecond: number;
  latencyMs: { mean: number; p50: number; p95: number; p99: number; max: number };
}

export async function runClosedLoop(call: Call, options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorSamples = new Set<string>();
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureUntil = measureFrom + options.durationMs;

  const loop = async (caller: number) => {
    for (let seq = 0; seq < options.maxCallsPerCaller; seq++) {
      const t0 = performance.now();
      if (t0 >= measureUntil) return;
      let failed = false;
      try {
        await call(caller, seq);
      } catch (error) {
        failed = true;
        if (errorSamples.size < 5) errorSamples.add(String((error as Error).message ?? error).slice(0, 200));
      }
      const t1 = performance.now();
      // Count only calls that started and ended inside the window, so warm-up and tail do not leak in.
      if (t0 >= measureFrom && t1 <= measureUntil) {
        if (failed) errors++;
        else latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: options.callers }, (_, i) => loop(i)));
  const elapsedMs = Math.min(performance.now(), measureUntil) - measureFrom;
  return {
    callers: options.callers,
    calls: latencies.length,
    errors,
    errorSamples: [...errorSamples],
    elapsedMs: round(elapsedMs),
    throughputPerSecond: round(elapsedMs > 0 ? (latencies.length / elapsedMs) * 1000 : 0),
    latencyMs: summarize(latencies),
  };
}

function summarize(values: number[]): LoadResult['latencyMs'] {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean: round(mean), p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] as number) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
