/**
 * Harbor's overall health colour for the tray, from supervised process states, firing alerts and
 * the tunnel — a pure function so main, the CLI and tests all agree on it.
 *
 *   red   : the host is not running (stopped, errored, crash-looping, or absent), any supervised
 *           process is errored, or sharing is on and the tunnel is down or off.
 *   amber : a warning alert is firing, a process is (re)starting or restarted recently, a hosted
 *           server leaves a ping unanswered while calls wait (frozen),
 *           or sharing is on and the tunnel is degraded or still starting.
 *   green : none of the above.
 *
 * Reasons are short sentences for the popover and notifications, red ones first.
 */
export type HealthState = 'green' | 'amber' | 'red';

export type ProcessState = 'starting' | 'online' | 'stopping' | 'stopped' | 'crashed' | 'waiting' | 'errored';

export type TunnelState = 'off' | 'starting' | 'online' | 'degraded' | 'down';

export interface RestartRecord {
  at: number;
  /** 'memory' = restarted by the memory watchdog; anything else is shown as is ('crash', 'unresponsive'). */
  cause: string;
  /** Memory at the time of a watchdog restart. */
  rssBytes?: number;
  limitBytes?: number;
  exitCode?: number | null;
}

export interface ProcessHealth {
  name: string;
  state: ProcessState;
  /** Restarts since the process was first started. */
  restarts: number;
  /** Recent restarts, any order; older than the window are ignored. */
  restartHistory?: readonly RestartRecord[];
  /** When it entered `errored`, the time of its next slow retry, if any. */
  nextRetryAt?: number | null;
}

export interface FiringAlert {
  message: string;
  severity: 'warning' | 'note';
}

export interface HealthInput {
  /** The host child as main's supervisor sees it; null when it was never started. */
  host: ProcessHealth | null;
  /** Upstream MCP servers and cloudflared, as their supervisors see them. */
  processes: readonly ProcessHealth[];
  alerts: readonly FiringAlert[];
  tunnel: { state: TunnelState; shared: boolean; detail?: string };
  /** Hosted servers that leave a ping unanswered while calls wait (liveness-probe.ts), and for how long. */
  unresponsive?: readonly { name: string; silentMs: number }[];
  /** Why the last edit of config.json was refused (the previous config still served); absent when none is. */
  configRefused?: string | null;
  now: number;
  /** How far back a restart still turns the colour amber; default 10 min. */
  recentRestartMs?: number;
}

export interface Health {
  state: HealthState;
  reasons: string[];
}

const MB = 1024 * 1024;

export function computeHealth(input: HealthInput): Health {
  const red: string[] = [];
  const amber: string[] = [];
  const windowMs = input.recentRestartMs ?? 10 * 60_000;

  const host = input.host;
  if (host === null) red.push('Harbor host is not running');
  else if (host.state === 'stopped' || host.state === 'stopping') red.push('Harbor host is stopped');
  else checkProcess({ ...host, name: 'Harbor host' }, input.now, windowMs, red, amber);

  for (const process of input.processes) checkProcess(process, input.now, windowMs, red, amber);
  for (const { name, silentMs } of input.unresponsive ?? []) amber.push(`${name} is not answering (no reply to ping for ${minutes(silentMs)})`);

  const { state: tunnel, shared, detail } = input.tunnel;
  if (shared) {
    const suffix = detail ? ` (${detail})` : '';
    if (tunnel === 'down') red.push(`tunnel down: teammates can't reach Harbor${suffix}`);
    else if (tunnel === 'off') red.push("sharing is on but the tunnel isn't running");
    else if (tunnel === 'degraded') amber.push(`tunnel degraded${suffix}`);
    else if (tunnel === 'starting') amber.push('tunnel starting');
  }

  for (const alert of input.alerts) if (alert.severity === 'warning') amber.push(alert.message);
  if (input.configRefused) amber.push(`config.json edit not applied, still serving the previous config: ${input.configRefused}`);

  const state: HealthState = red.length > 0 ? 'red' : amber.length > 0 ? 'amber' : 'green';
  return { state, reasons: [...red, ...amber] };
}

function checkProcess(process: ProcessHealth, now: number, windowMs: number, red: string[], amber: string[]): void {
  const recent = (process.restartHistory ?? []).filter((record) => record.at <= now && now - record.at <= windowMs);
  const restartNote = recent.length > 0 ? ` — ${describeRestarts(recent, windowMs)}` : '';
  switch (process.state) {
    case 'errored': {
      const retry = process.nextRetryAt != null && process.nextRetryAt > now ? `, retrying in ${minutes(process.nextRetryAt - now)}` : '';
      red.push(`${process.name}: keeps crashing, stopped restarting${retry}${restartNote}`);
      return;
    }
    case 'crashed':
    case 'waiting':
      amber.push(`${process.name}: restarting${restartNote}`);
      return;
    case 'starting':
      amber.push(process.restarts > 0 ? `${process.name}: restarting${restartNote}` : `${process.name}: starting`);
      return;
    case 'online':
      if (recent.length > 0) amber.push(`${process.name}: ${describeRestarts(recent, windowMs)}`);
      return;
    case 'stopping':
    case 'stopped':
      // Upstreams stopped by the user are not a fault.
      return;
  }
}

/** "restarted 3× in 10 min (memory 95 % of 512 MB)" — the cause of the latest restart in brackets. */
function describeRestarts(recent: readonly RestartRecord[], windowMs: number): string {
  const latest = recent.reduce((a, b) => (b.at > a.at ? b : a));
  let cause = '';
  if (latest.cause === 'memory' && latest.rssBytes !== undefined && latest.limitBytes) {
    cause = ` (memory ${Math.round((latest.rssBytes / latest.limitBytes) * 100)} % of ${formatMegabytes(latest.limitBytes)})`;
  } else if (latest.cause === 'memory') {
    cause = ' (memory limit)';
  } else if (latest.exitCode !== undefined && latest.exitCode !== null) {
    cause = ` (${latest.cause}, exit code ${latest.exitCode})`;
  } else if (latest.cause) {
    cause = ` (${latest.cause})`;
  }
  const count = recent.length === 1 ? 'restarted once' : `restarted ${recent.length}×`;
  return `${count} in ${minutes(windowMs)}${cause}`;
}

function minutes(ms: number): string {
  return ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;
}

function formatMegabytes(bytes: number): string {
  return bytes >= 1024 * MB && bytes % (1024 * MB) === 0 ? `${bytes / (1024 * MB)} GB` : `${Math.round(bytes / MB)} MB`;
}
