/**
 * Notices that the machine slept: a timer that fires far later than asked means the process was
 * frozen. Headless hosts have no powerMonitor; the app uses Electron's 'resume' event instead.
 */
export function onWakeFromSleep(callback: (sleptMs: number) => void, options: { intervalMs?: number; thresholdMs?: number } = {}): () => void {
  const intervalMs = options.intervalMs ?? 5000;
  const thresholdMs = options.thresholdMs ?? 30_000;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const gap = now - last - intervalMs;
    last = now;
    if (gap > thresholdMs) callback(gap);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
