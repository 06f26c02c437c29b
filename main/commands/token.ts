import { parseArgs } from 'node:util';
import { renderConnectionText } from '../../server/access/connection-bundle.ts';
import { REVOCATION_CHECK_MS } from '../../server/auth/revocation-watch.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';
import { isAlive } from '../../server/supervision/process-tree.ts';
import { describeVia, type ConnectedVia } from '../../server/auth/connected-via.ts';
import type { TeammateConnection } from '../../server/admin/host-api.ts';
import { usesSharedStore, withOfflineActivity, withOfflineTeammates } from '../../server/services/offline-services.ts';
import { scopeProblem } from '../../server/services/teammates.ts';
import { AdminClient, isNoAnswer } from '../core/admin-client.ts';
import { date, homePaths, printList, UsageError } from './common.ts';

/**
 * `harbor token add|list|revoke`: the running host does the work when it answers (a revocation then
 * closes open sessions at once); otherwise the same teammates service over the store
 * (server/services/). This file only reads flags and writes what happened.
 */
export async function token(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      json: { type: 'boolean', default: false },
      scope: { type: 'string' },
      'expires-days': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const paths = homePaths();
  const name = positionals.join(' ').trim();
  switch (sub) {
    case 'add': {
      if (!name) throw new UsageError('usage: harbor token add <name> [--scope server,...] [--expires-days N] [--json]');
      const scope = values.scope ? values.scope.split(',').map((s) => s.trim()).filter(Boolean) : null;
      const problem = scopeProblem(scope);
      if (problem) throw new UsageError(`--scope: ${problem}`);
      let expiresAt: number | null = null;
      if (values['expires-days'] !== undefined) {
        const days = Number(values['expires-days']);
        if (!(days > 0)) throw new UsageError(`--expires-days must be a positive number, got "${values['expires-days']}"`);
        expiresAt = Date.now() + days * 86_400_000;
      }
      const admin = await AdminClient.connect(paths.home);
      const { token, bundles } = admin
        ? await admin.issueTeammate(name, { scope, expiresAt }).catch(asUsageError)
        : await withOfflineTeammates({ paths }, (teammates) => teammates.issue(name, { scope, expiresAt })).catch((error: Error) => {
            // A malformed HARBOR_PUBLIC_URL (access/public-url.ts) is the caller's to fix: its message, no stack.
            throw error.name === 'PublicUrlError' ? new UsageError(error.message) : error;
          });
      if (values.json) {
        process.stdout.write(JSON.stringify({ name, token, bundles }) + '\n');
        return;
      }
      process.stdout.write(`Token for ${name} (shown once; Harbor keeps only its hash):\n\n  ${token}\n\n`);
      process.stdout.write(renderConnectionText(bundles ?? []));
      return;
    }
    case 'list': {
      const admin = await AdminClient.connect(paths.home);
      const teammates = admin ? await admin.teammates() : await withOfflineTeammates({ paths }, (t) => t.list());
      const lastWay = values.json || !teammates.length ? new Map<string, ConnectedVia>() : await lastWaysIn(() => (admin ? admin.connections() : withOfflineActivity({ paths }, (a) => a.connections())));
      printList(teammates, {
        json: values.json,
        empty: 'No teammates yet. Add one with: harbor token add <name>',
        header: ['NAME', 'CREATED', 'LAST USED', 'CALLS', 'LAST CONNECTED', 'STATUS'],
        row: (t) => [t.name, date(t.createdAt), date(t.lastUsedAt), String(t.calls), describeVia(lastWay.get(t.name)), t.revokedAt ? `revoked ${date(t.revokedAt)}` : 'active'],
      });
      return;
    }
    case 'revoke': {
      if (!name) throw new UsageError('usage: harbor token revoke <name>');
      const admin = await AdminClient.connect(paths.home);
      if (admin) {
        try {
          const answer = await admin.revokeTeammate(name);
          process.stdout.write(`Revoked ${name}; closed ${answer.sessionsClosed} open session(s).\n`);
          return;
        } catch (error) {
          // The host answered with a refusal (no such teammate): that is the answer. Silence falls through.
          if (!isNoAnswer(error)) throw new UsageError((error as Error).message);
        }
      }
      const revoked = await withOfflineTeammates({ paths }, (teammates) => teammates.revoke(name));
      if (!revoked.tokenRevoked && !revoked.signInTokensRevoked) throw new UsageError(`no active token or sign-in for "${name}"`);
      if (revoked.signInTokensRevoked) process.stdout.write(`Ended ${name}'s sign-ins (${revoked.signInTokensRevoked} token(s) revoked).\n`);
      if (usesSharedStore({ paths })) {
        process.stdout.write(`Revoked ${name} in the shared database; every replica refuses it within a second and closes their streams.\n`);
        return;
      }
      // A host that runs but did not answer finds the revocation in the file itself and closes the streams.
      const runtime = readHostRuntime(paths.home);
      if (runtime && isAlive(runtime.pid)) {
        const seconds = Math.ceil(REVOCATION_CHECK_MS / 1000) + 1;
        // The host watches the file for both: static tokens (token-store) and sign-ins (sqlite-grant-store's revocation log).
        process.stdout.write(`Revoked ${name} in the database; Harbor at ${runtime.url} did not answer, its open streams close within ${seconds} s.\n`);
        process.exitCode = HOST_DID_NOT_ANSWER;
        return;
      }
      process.stdout.write(`Revoked ${name}. Their next request is refused.\n`);
      return;
    }
    default:
      throw new UsageError('usage: harbor token add|list|revoke ...');
  }
}

/** Exit status of a revocation written to the file while the running host did not answer (as `status` uses 3). */
const HOST_DID_NOT_ANSWER = 3;

/**
 * How each teammate made their latest audited call ("token `alice`", "signed in from Claude Code"):
 * the first of theirs in connections(), which lists the most recent first. A log that cannot be read
 * (an older host without the route) leaves the column at '-': the list itself is the answer.
 */
async function lastWaysIn(read: () => Promise<TeammateConnection[]>): Promise<Map<string, ConnectedVia>> {
  const ways = new Map<string, ConnectedVia>();
  try {
    for (const c of await read()) if (!ways.has(c.teammate)) ways.set(c.teammate, c.via);
  } catch {
    // said above: the column stays '-'
  }
  return ways;
}

/** The host's refusal (a taken name, a bad scope), said as the CLI says its own. */
function asUsageError(error: unknown): never {
  throw new UsageError((error as Error).message);
}
