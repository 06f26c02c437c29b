import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShareState } from '../../server/host.ts';
import type { Logger } from '../../server/logger.ts';
import { TunnelManager, type TunnelManagerOptions, type TunnelStatus } from './tunnel/tunnel-manager.ts';
import { TunnelTokenStore } from './tunnel/tunnel-token-store.ts';

export interface ShareRequest {
  mode: 'quick' | 'named';
  /** Named mode: the tunnel token (stored in the keychain; reused when omitted later). */
  token?: string;
  /** Named mode: the public hostname configured in the Cloudflare dashboard. */
  hostname?: string;
}

/** What survives a restart of the app or the host: sharing resumes as it was. */
interface Persisted {
  mode: 'quick' | 'named';
  hostname?: string;
}

const FILE = 'share.json';

/**
 * "Share with team": runs cloudflared through the TunnelManager for the host's port and reports
 * every state change (a quick tunnel's URL changes on each restart). Lives beside the host's
 * supervisor, not in the host, so a host restart does not change the public URL.
 */
export class ShareController {
  readonly #home: string;
  readonly #log: Logger;
  readonly #tunnelOptions: TunnelManagerOptions;
  readonly #tokens: TunnelTokenStore;
  #tunnel: TunnelManager | null = null;
  #hostPort = 0;
  #status: ShareState = { state: 'off', mode: null, publicUrl: null, lastError: null };
  onChange: (state: ShareState) => void = () => {};

  constructor(options: { home: string; logger: Logger; tunnel?: TunnelManagerOptions }) {
    this.#home = options.home;
    this.#log = options.logger;
    this.#tunnelOptions = { ...options.tunnel, logger: options.logger };
    this.#tokens = new TunnelTokenStore(options.home, options.logger);
  }

  get state(): ShareState {
    return this.#status;
  }

  get tunnel(): TunnelManager | null {
    return this.#tunnel;
  }

  setHostPort(port: number): void {
    this.#hostPort = port;
  }

  /** Resumes sharing if it was on when the app or `harbor serve` last stopped. */
  async resume(): Promise<void> {
    const persisted = this.#persisted();
    if (!persisted) return;
    this.#log.info({ mode: persisted.mode }, 'resuming sharing');
    await this.start(persisted).catch(() => {});
  }

  async start(request: ShareRequest): Promise<ShareState> {
    if (request.mode !== 'quick' && request.mode !== 'named') throw new ShareError('mode must be "quick" or "named"');
    if (!this.#hostPort) throw new ShareError('the host is not running');
    await this.#stopTunnel();
    let token: string | null = null;
    if (request.mode === 'named') {
      if (request.token) await this.#tokens.save(request.token);
      token = request.token ?? (await this.#tokens.load());
      if (!token) throw new ShareError('a named tunnel needs its token once: harbor share --named <token> --hostname <host>');
    }
    const tunnel = new TunnelManager(this.#tunnelOptions);
    this.#tunnel = tunnel;
    tunnel.on('state', (status) => this.#update(status));
    this.#savePersisted({ mode: request.mode, ...(request.hostname ? { hostname: request.hostname } : {}) });
    try {
      const status =
        request.mode === 'quick'
          ? await tunnel.start({ mode: 'quick', hostPort: this.#hostPort })
          : await tunnel.start({ mode: 'named', token: token!, hostPort: this.#hostPort, ...(request.hostname ? { hostname: request.hostname } : {}) });
      this.#update(status);
    } catch (error) {
      if ((error as { code?: string }).code === 'CLOUDFLARED_NOT_FOUND') {
        // Nothing to retry until the user installs it: sharing is off (health stays green), not
        // down, and the wish to share is not kept for the next start.
        await this.#stopTunnel();
        this.#forget();
        const searched = (error as { searched?: string[] }).searched ?? [];
        this.#update({ state: 'off', mode: null, publicUrl: null, lastError: (error as Error).message, ...(searched.length ? { searched } : {}) });
      } else {
        this.#update({ ...tunnel.state(), lastError: (error as Error).message });
      }
    }
    return this.#status;
  }

  async stop(): Promise<ShareState> {
    this.#forget();
    await this.#stopTunnel();
    this.#update({ state: 'off', mode: null, publicUrl: null, lastError: null });
    return this.#status;
  }

  /** The app or `harbor serve` is quitting: the tunnel stops, the wish to share is kept for next time. */
  async shutdown(): Promise<void> {
    await this.#stopTunnel();
  }

  /** After a wake from sleep: a dead tunnel is restarted. */
  async checkAlive(): Promise<void> {
    await this.#tunnel?.checkAlive();
  }

  async #stopTunnel(): Promise<void> {
    const tunnel = this.#tunnel;
    this.#tunnel = null;
    if (tunnel) {
      tunnel.removeAllListeners('state');
      await tunnel.stop();
    }
  }

  #update(status: TunnelStatus | ShareState): void {
    const next: ShareState = {
      state: status.state,
      mode: status.mode,
      publicUrl: status.publicUrl,
      lastError: status.lastError,
      ...(status.degradedReason ? { degradedReason: status.degradedReason } : {}),
      ...('searched' in status && status.searched ? { searched: status.searched } : {}),
    };
    const changed = JSON.stringify(next) !== JSON.stringify(this.#status);
    this.#status = next;
    if (changed) this.onChange(next);
  }

  #persisted(): Persisted | null {
    const file = join(this.#home, FILE);
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Persisted;
    } catch {
      return null;
    }
  }

  #savePersisted(value: Persisted): void {
    writeFileSync(join(this.#home, FILE), JSON.stringify(value) + '\n', { mode: 0o600 });
  }

  #forget(): void {
    rmSync(join(this.#home, FILE), { force: true });
  }
}

export class ShareError extends Error {}
