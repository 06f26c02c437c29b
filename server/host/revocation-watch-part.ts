import { watchRevocations } from '../auth/revocation-watch.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { SessionRegistry } from '../http/session-registry.ts';
import type { Logger } from '../logger.ts';
import type { SignInWithHarbor } from '../oauth/sign-in-with-harbor.ts';

/**
 * Teammates revoked by another process (the CLI, another replica) lose their sessions here too:
 * static tokens through the store's change watch, sign-ins through the revoking store's notices.
 */
export function watchRevokedTeammates(parts: { tokens: TokenStore; signIn: SignInWithHarbor | null; sessions: SessionRegistry; log: Logger }): { close(): void } {
  const { sessions, log } = parts;
  const stopTokens = watchRevocations({ tokens: parts.tokens, endTeammate: (teammate, reason) => sessions.endTeammate(teammate, reason), log });
  const stopSignIns = parts.signIn?.onRevokedElsewhere((teammate) => {
    sessions.endTeammate(teammate, 'token revoked').then(
      (closed) => log.info({ teammate, sessionsClosed: closed }, 'sign-ins revoked on another replica; sessions closed'),
      (error: Error) => log.warn({ teammate, err: error.message }, 'could not close the sessions of a revoked teammate'),
    );
  });
  return {
    close() {
      stopTokens();
      stopSignIns?.();
    },
  };
}
