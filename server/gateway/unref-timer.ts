/** Runs `run` once after `ms`; returns its cancel function. Injectable wherever a module keeps timers, so tests drive them by hand. */
export type Schedule = (run: () => void, ms: number) => () => void;

/** The default Schedule: a timer that never keeps the process alive on its own. */
export const scheduleUnref: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};
