import type { Logger } from '../logger.ts';
import type { TokenStore } from './token-store.ts';

/**
 * How often the host looks for revocations it did not make itself (`harbor token revoke` writing the
 * file when the host did not answer). The check is one `PRAGMA data_version` while nothing changed.
 * A store that pushes changes (PostgreSQL: LISTEN/NOTIFY, revocations by another replica) is also
 * checked the moment it reports one, so streams close within a notification, not a poll.
 */
export const REVOCATION_CHECK_MS = 1000;

export interface RevocationWatchOptions {
  tokens: Pick<TokenStore, 'revokedElsewhere' | 'onChangeElsewhere'>;
  /** Ends the teammate's sessions and their streams; resolves to how many. */
  endTeammate: (teammate: string, reason: string) => Promise<number>;
  log: Logger;
  everyMs?: number;
}

/** Closes the sessions of teammates revoked by another process, within one check of the write. Returns stop(). */
export function watchRevocations(options: RevocationWatchOptions): () => void {
  const check = () => {
    let revoked: string[];
    try {
      revoked = options.tokens.revokedElsewhere();
    } catch (error) {
      options.log.warn({ err: (error as Error).message }, 'could not check the token store for revocations');
      return;
    }
    for (const teammate of revoked) {
      options.endTeammate(teammate, 'token revoked').then(
        (closed) => options.log.info({ teammate, sessionsClosed: closed }, 'token revoked outside the host; sessions closed'),
        (error: Error) => options.log.warn({ teammate, err: error.message }, 'could not close the sessions of a revoked teammate'),
      );
    }
  };
  const timer = setInterval(check, options.everyMs ?? REVOCATION_CHECK_MS);
  timer.unref();
  const unsubscribe = options.tokens.onChangeElsewhere?.(check);
  return () => {
    clearInterval(timer);
    unsubscribe?.();
  };
}
