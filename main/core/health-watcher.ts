import { EventEmitter } from 'node:events';
import type { Health, HostApi, HostStatus } from '../../server/admin/host-api.ts';
import { notificationsBetween, type NotificationSpec, type Observation } from './notification-rules.ts';

/**
 * Polls a running host's status and the sign-ins waiting for the owner (and, less often, its teammate list) and says what changed: the tray
 * app colours its icon and shows native notifications from it, `harbor serve` logs it. Electron-free,
 * so both share it and it is tested under Node against a real host.
 */
export interface HealthWatcherOptions {
  /** The host's admin API, or null while no host is ready (then health is red: not answering). */
  api: () => (Pick<HostApi, 'status' | 'teammates'> & Partial<Pick<HostApi, 'approvals'>>) | null;
  /** The public URL when the status carries none (an older host, or no answer): the controller's share state. */
  publicUrl?: () => string | null;
  /** Default 5 s. */
  intervalMs?: number;
  /** The teammate list is read on every n-th poll (first connections are not urgent). Default 3. */
  teammatesEvery?: number;
  /** A status request failed (the poll goes on, with health red). */
  onError?: (error: Error) => void;
}

export interface StatusUpdate {
  /** Null when the host did not answer. */
  status: HostStatus | null;
  health: Health;
  /** The previous poll's health; null on the first poll. */
  previous: Health | null;
}

export interface HealthWatcherEvents {
  /** After every status request, before the teammate list is read. */
  status: [StatusUpdate];
  /** Each notification a poll's change deserves (notification-rules.ts), in order. */
  notification: [NotificationSpec];
}

const NOT_ANSWERING: Health = { state: 'red', reasons: ['Harbor host is not answering'] };

export class HealthWatcher extends EventEmitter<HealthWatcherEvents> {
  readonly #options: HealthWatcherOptions;
  #observed: Observation | null = null;
  #previous: Health | null = null;
  #polls = 0;
  #inFlight: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HealthWatcherOptions) {
    super();
    this.#options = options;
  }

  /** Polls every `intervalMs` until stop(); the timer never keeps a process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.poll(), this.#options.intervalMs ?? 5000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One poll now; a call while one runs joins it instead of starting another. */
  poll(): Promise<void> {
    this.#inFlight ??= this.#pollOnce().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  async #pollOnce(): Promise<void> {
    const api = this.#options.api();
    let status: HostStatus | null = null;
    try {
      status = api ? await api.status() : null;
    } catch (error) {
      this.#options.onError?.(error as Error);
    }
    const health = status?.health ?? NOT_ANSWERING;
    this.emit('status', { status, health, previous: this.#previous });
    this.#previous = health;

    let teammates = this.#observed?.teammates ?? null;
    if (api && this.#polls++ % (this.#options.teammatesEvery ?? 3) === 0) {
      teammates = await api.teammates().catch(() => teammates);
    }
    // Every poll: a waiting sign-in expires in minutes. With sign-in off the host answers 501 (one
    // loopback request per poll, cheaper than tracking the host's auth mode here) and the list stays null.
    let approvals = this.#observed?.approvals ?? null;
    if (api?.approvals) approvals = await api.approvals().catch(() => approvals);
    const next: Observation = { health, teammates, approvals, publicUrl: status?.share?.publicUrl ?? this.#options.publicUrl?.() ?? null };
    const notifications = notificationsBetween(this.#observed, next);
    this.#observed = next;
    for (const spec of notifications) this.emit('notification', spec);
  }
}
