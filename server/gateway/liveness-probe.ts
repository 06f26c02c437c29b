/**
 * Notices a hosted server that has stopped answering (frozen by SIGSTOP, a deadlock, a busy loop):
 * without it, 200 callers wait for the 300 s per-call timeout while health stays green.
 *
 * While a call has been in flight longer than `overdueMs`, the server is sent an MCP `ping` (every
 * server must answer one promptly, whatever it is busy with). A ping unanswered for `pingTimeoutMs`
 * marks the server unresponsive; any answer (a result, even an error from a server without ping) or any
 * other message from it proves it alive and clears the mark. Idle servers are never pinged.
 *
 * A server unresponsive for `restartAfterMs` is restarted (calls in flight fail at once with a clear
 * error) — but only if it answered a ping earlier in this run, so a server that ignores pings is never
 * killed for it, only reported. Trade-off: a server that answers pings yet hangs every call is "slow",
 * not frozen, and is left to the per-call timeout.
 */

export interface LivenessOptions {
  /** A call older than this makes the probe ping. Default 3000 ms: with the ping timeout, a freeze is reported within about 10 s. */
  overdueMs: number;
  /** A ping unanswered this long marks the server unresponsive. Default 5000 ms. */
  pingTimeoutMs: number;
  /** How often the probe looks at the oldest call. Default 1000 ms. */
  checkEveryMs: number;
  /** Unresponsive this long → restart (if it ever answered a ping). Default 30000 ms; 0 never restarts. */
  restartAfterMs: number;
}

export const defaultLiveness: LivenessOptions = { overdueMs: 3_000, pingTimeoutMs: 5_000, checkEveryMs: 1_000, restartAfterMs: 30_000 };

export interface LivenessHooks {
  /** When the oldest call still in flight was sent (clock of `now`), or null when none is. */
  oldestInFlightAt: () => number | null;
  /** Sends an MCP ping; resolves on any answer, rejects when the upstream went down. */
  ping: () => Promise<unknown>;
  onUnresponsive: (silentMs: number) => void;
  onResponsive: (silentMs: number) => void;
  /** Frozen past `restartAfterMs`: restart it. Called once per frozen spell. */
  onStuck: (silentMs: number) => void;
  /** Clock and timer, injectable for tests; default performance.now() and an unref'd setInterval. */
  now?: () => number;
  every?: (fn: () => void, ms: number) => () => void;
}

function every(fn: () => void, ms: number): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}

export interface LivenessProbe {
  /** The upstream sent something: it is alive. */
  heard(): void;
  /** A fresh child is initialised: forget the previous one, and learn with one ping whether it answers pings. */
  up(): void;
  /** The child went away: its silence is its supervisor's story now, not ours. */
  down(): void;
  /** How long the server has been silent to a ping, or null while it is not unresponsive. */
  silentMs(): number | null;
  stop(): void;
}

export function startLivenessProbe(options: Partial<LivenessOptions>, hooks: LivenessHooks): LivenessProbe {
  const o = { ...defaultLiveness, ...options };
  const now = hooks.now ?? (() => performance.now());
  /** When the unanswered ping was sent; null when none is out. */
  let pingSentAt: number | null = null;
  let unresponsive = false;
  let stuckReported = false;
  /** A ping answered in this run: the server speaks ping, so silence means frozen. */
  let answersPing = false;
  let lastHeardAt = now();
  let generation = 0;

  const alive = (): void => {
    lastHeardAt = now();
    const silent = pingSentAt === null ? 0 : lastHeardAt - pingSentAt;
    pingSentAt = null;
    stuckReported = false;
    if (unresponsive) {
      unresponsive = false;
      hooks.onResponsive(silent);
    }
  };

  const forget = (): void => {
    generation++;
    const silent = pingSentAt === null ? 0 : now() - pingSentAt;
    const wasUnresponsive = unresponsive;
    pingSentAt = null;
    unresponsive = false;
    stuckReported = false;
    answersPing = false;
    lastHeardAt = now();
    if (wasUnresponsive) hooks.onResponsive(silent);
  };

  const tick = (): void => {
    const t = now();
    if (pingSentAt !== null) {
      const silent = t - pingSentAt;
      if (!unresponsive && silent >= o.pingTimeoutMs) {
        unresponsive = true;
        hooks.onUnresponsive(silent);
      }
      if (unresponsive && answersPing && !stuckReported && o.restartAfterMs > 0 && silent >= o.restartAfterMs) {
        stuckReported = true;
        hooks.onStuck(silent);
      }
      return; // one ping at a time: a frozen server answers the queued one when it wakes
    }
    const oldest = hooks.oldestInFlightAt();
    // Overdue calls, and nothing heard from the server for as long: a server streaming progress is alive.
    if (oldest === null || t - oldest < o.overdueMs || t - lastHeardAt < o.overdueMs) return;
    pingSentAt = t;
    const mine = generation;
    hooks.ping().then(
      () => {
        if (mine !== generation) return;
        answersPing = true;
        alive();
      },
      // Down (down() has moved on) or the router's own long timeout: the silence goes on being measured
      // from this ping, and any later message from the server still clears it.
      () => {},
    );
  };

  const cancel = (hooks.every ?? every)(tick, o.checkEveryMs);
  return {
    heard: () => {
      if (pingSentAt !== null || unresponsive) alive();
      else lastHeardAt = now();
    },
    up: () => {
      forget();
      const mine = generation;
      hooks.ping().then(() => {
        if (mine === generation) answersPing = true;
      }, () => {});
    },
    down: forget,
    silentMs: () => (unresponsive && pingSentAt !== null ? now() - pingSentAt : null),
    stop: () => cancel(),
  };
}
