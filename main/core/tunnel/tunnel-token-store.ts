import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../server/logger.ts';

const SERVICE = 'harbor';
const ACCOUNT = 'cloudflare-tunnel-token';
const FILE = 'tunnel-token';

/**
 * Where the named tunnel's token lives: the OS keychain when there is one (macOS Keychain, Windows
 * Credential Manager, Secret Service), else a 0600 file in HARBOR_HOME. Never in config.json.
 */
export class TunnelTokenStore {
  readonly #home: string;
  readonly #log: Logger;

  constructor(home: string, log: Logger) {
    this.#home = home;
    this.#log = log;
  }

  async save(token: string): Promise<'keychain' | 'file'> {
    try {
      const entry = await this.#entry();
      entry.setPassword(token);
      rmSync(join(this.#home, FILE), { force: true });
      return 'keychain';
    } catch (error) {
      this.#log.info({ err: (error as Error).message }, 'no OS keychain; keeping the tunnel token in a 0600 file');
      const file = join(this.#home, FILE);
      writeFileSync(file, token, { mode: 0o600 });
      chmodSync(file, 0o600);
      return 'file';
    }
  }

  async load(): Promise<string | null> {
    try {
      const value = (await this.#entry()).getPassword();
      if (value) return value;
    } catch {
      /* no keychain: try the file */
    }
    const file = join(this.#home, FILE);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
  }

  async #entry(): Promise<{ setPassword(p: string): void; getPassword(): string | null }> {
    const { Entry } = await import('@napi-rs/keyring');
    return new Entry(SERVICE, ACCOUNT);
  }
}
