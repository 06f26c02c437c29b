import { buildConnectionBundle, mergedSnippets, type ConnectionBundle, type Snippet } from '../access/connection-bundle.ts';
import type { IssueOptions, Teammate, TokenStore } from '../auth/token-store.ts';
import { isServerName, SERVER_NAME_RULE } from '../gateway/server-name.ts';
import { ServiceInputError } from './input-error.ts';

/**
 * Teammates: who may connect, with which token, to which servers. One service for the admin API
 * (a running host: the tunnel's URL in the bundles, sign-ins and open sessions ended on revoke) and
 * for the CLI when no host answers (the store opened through open-store.ts: offline-services.ts).
 */
export interface TeammateSources {
  tokens: TokenStore;
  /** The servers a bundle may point at, before the teammate's scope narrows them. */
  serverNames: () => Iterable<string>;
  /** Where teammates reach the host: the public URL while shared, else the local one. */
  baseUrl: () => string;
  /** A running host's Sign in with Harbor: a teammate's OAuth grants go with their token. */
  signIns?: { revokeTeammate(name: string): Promise<number> | number } | undefined;
  /** A running host's open sessions of a teammate, ended; how many. */
  endSessions?: ((teammate: string, reason: string) => Promise<number>) | undefined;
}

export interface IssuedTeammate {
  teammate: Teammate;
  /** Shown once; the store keeps only its hash. */
  token: string;
  /** One per server the scope allows. */
  bundles: ConnectionBundle[];
  /** One snippet per client over all the bundles (one mcpServers block). */
  merged: Snippet[];
}

export interface TeammateRevocation {
  name: string;
  /** An active static token was revoked. */
  tokenRevoked: boolean;
  /** Sign-in tokens revoked; null where sign-in is not on (or no host runs). */
  signInTokensRevoked: number | null;
  sessionsClosed: number;
}

export interface TeammatesService {
  list(): Teammate[];
  /** Throws ServiceInputError for a scope naming no server; the store's TokenNameError for a bad or taken name. */
  issue(name: string, options?: IssueOptions): IssuedTeammate;
  revoke(name: string): Promise<TeammateRevocation>;
}

/** Why a scope cannot be stored (its first entry that is no server name), or null. */
export function scopeProblem(scope: readonly string[] | null | undefined): string | null {
  const bad = scope?.find((entry) => !isServerName(entry));
  return bad === undefined ? null : `"${bad.slice(0, 120)}" is not a server name (${SERVER_NAME_RULE})`;
}

export function teammatesService(sources: TeammateSources): TeammatesService {
  const bundlesFor = (teammate: Teammate, token: string, baseUrl: string): ConnectionBundle[] =>
    [...sources.serverNames()]
      .filter((serverName) => !teammate.scope || teammate.scope.includes(serverName))
      .map((serverName) => buildConnectionBundle({ serverName, baseUrl, token, teammate: teammate.name }));
  return {
    list: () => sources.tokens.list(),
    issue(name, options = {}) {
      const problem = scopeProblem(options.scope);
      if (problem) throw new ServiceInputError(`scope: ${problem}`);
      // The address first: one that cannot be had (a bad HARBOR_PUBLIC_URL offline) must stop the
      // command before a token is stored that nobody would be shown.
      const baseUrl = sources.baseUrl();
      const { token, teammate } = sources.tokens.issue(name, options);
      const bundles = bundlesFor(teammate, token, baseUrl);
      return { teammate, token, bundles, merged: mergedSnippets(bundles) };
    },
    async revoke(name) {
      // A teammate's static token and their sign-ins go together, and so do their open sessions.
      const tokenRevoked = sources.tokens.revoke(name);
      const signInTokensRevoked = sources.signIns ? await sources.signIns.revokeTeammate(name) : null;
      const anything = tokenRevoked || (signInTokensRevoked ?? 0) > 0;
      const sessionsClosed = anything && sources.endSessions ? await sources.endSessions(name, 'token revoked') : 0;
      return { name, tokenRevoked, signInTokensRevoked, sessionsClosed };
    },
  };
}
