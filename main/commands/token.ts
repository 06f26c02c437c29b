import { parseArgs } from 'node:util';
import { buildConnectionBundle, renderConnectionText, type ConnectionBundle } from '../../server/access/connection-bundle.ts';
import { REVOCATION_CHECK_MS } from '../../server/auth/revocation-watch.ts';
import type { TokenStore } from '../../server/auth/token-store.ts';
import { readHostRuntime } from '../../server/admin/runtime-file.ts';
import { isAlive } from '../../server/supervision/process-tree.ts';
import { loadConfig } from '../../server/config/load-config.ts';
import { isServerName, SERVER_NAME_RULE } from '../../server/gateway/server-name.ts';
import { databaseUrl, openTokenStore } from '../../server/open-store.ts';
import type { HarborPaths } from '../../server/harbor-home.ts';
import { AdminClient } from '../core/admin-client.ts';
import { date, homePaths, printTable, UsageError } from './common.ts';

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
  // A running host does the work itself, so a revocation closes open sessions at once.
  const admin = sub === 'add' || sub === 'revoke' ? await AdminClient.connect(paths.home) : null;
  switch (sub) {
    case 'add': {
      if (!name) throw new UsageError('usage: harbor token add <name> [--scope server,...] [--expires-days N] [--json]');
      const scope = values.scope ? values.scope.split(',').map((s) => s.trim()).filter(Boolean) : null;
      const badScope = scope?.find((s) => !isServerName(s));
      if (badScope !== undefined) throw new UsageError(`--scope: "${badScope.slice(0, 120)}" is not a server name (${SERVER_NAME_RULE})`);
      let expiresAt: number | null = null;
      if (values['expires-days'] !== undefined) {
        const days = Number(values['expires-days']);
        if (!(days > 0)) throw new UsageError(`--expires-days must be a positive number, got "${values['expires-days']}"`);
        expiresAt = Date.now() + days * 86_400_000;
      }
      let token: string;
      let bundles: ConnectionBundle[];
      if (admin) {
        try {
          const answer = await admin.request<{ token: string; bundles: ConnectionBundle[] }>('POST', '/admin/teammates', { name, scope, expiresAt });
          token = answer.token;
          bundles = answer.bundles;
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
      } else {
        token = await withStore(paths, (store) => store.issue(name, { scope, expiresAt }).token);
        const { config } = loadConfig(paths.config, { docsFolder: paths.docs });
        const base = `http://127.0.0.1:${config.port}`;
        const names = [...(config.docs ? ['docs'] : []), ...Object.keys(config.mcpServers)].filter((n) => !scope || scope.includes(n));
        bundles = names.map((serverName) => buildConnectionBundle({ serverName, baseUrl: base, token, teammate: name }));
      }
      if (values.json) {
        process.stdout.write(JSON.stringify({ name, token, bundles }) + '\n');
        return;
      }
      process.stdout.write(`Token for ${name} (shown once; Harbor keeps only its hash):\n\n  ${token}\n\n`);
      process.stdout.write(renderConnectionText(bundles));
      return;
    }
    case 'list': {
      const teammates = await withStore(paths, (store) => store.list());
      if (values.json) {
        process.stdout.write(JSON.stringify(teammates, null, 2) + '\n');
        return;
      }
      if (teammates.length === 0) {
        process.stdout.write('No teammates yet. Add one with: harbor token add <name>\n');
        return;
      }
      const rows = [['NAME', 'CREATED', 'LAST USED', 'CALLS', 'STATUS']];
      for (const t of teammates) {
        rows.push([t.name, date(t.createdAt), date(t.lastUsedAt), String(t.calls), t.revokedAt ? `revoked ${date(t.revokedAt)}` : 'active']);
      }
      printTable(rows);
      return;
    }
    case 'revoke': {
      if (!name) throw new UsageError('usage: harbor token revoke <name>');
      if (admin) {
        try {
          const answer = await admin.request<{ sessionsClosed: number }>('DELETE', `/admin/teammates/${encodeURIComponent(name)}`);
          process.stdout.write(`Revoked ${name}; closed ${answer.sessionsClosed} open session(s).\n`);
          return;
        } catch (error) {
          // The host answered with a refusal (no such teammate): that is the answer. Silence falls through.
          if (!isNoAnswer(error)) throw new UsageError((error as Error).message);
        }
      }
      if (!(await withStore(paths, (store) => store.revoke(name)))) throw new UsageError(`no active token for "${name}"`);
      if (sharedStore(paths)) {
        process.stdout.write(`Revoked ${name} in the shared database; every replica refuses it within a second and closes their streams.\n`);
        return;
      }
      // A host that runs but did not answer finds the revocation in the file itself and closes the streams.
      const runtime = readHostRuntime(paths.home);
      if (runtime && isAlive(runtime.pid)) {
        const seconds = Math.ceil(REVOCATION_CHECK_MS / 1000) + 1;
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

/** A timeout or a refused connection, as opposed to an answer from the host. */
function isNoAnswer(error: unknown): boolean {
  const name = (error as Error).name;
  return name === 'TimeoutError' || name === 'AbortError' || error instanceof TypeError;
}

/** `store.url` of config.json, for the CLI as for the host (HARBOR_DATABASE_URL wins). */
function configStoreUrl(paths: HarborPaths): string | undefined {
  if (process.env.HARBOR_DATABASE_URL) return undefined;
  return loadConfig(paths.config, { docsFolder: paths.docs }).config.store.url;
}

/** Tokens kept in PostgreSQL (replicas), not in this home's SQLite file. */
function sharedStore(paths: HarborPaths): boolean {
  return databaseUrl(configStoreUrl(paths)) !== null;
}

/** The home's SQLite file, or PostgreSQL with HARBOR_DATABASE_URL / store.url; what `use` changed is stored before this resolves. */
async function withStore<T>(paths: HarborPaths, use: (store: TokenStore) => T): Promise<T> {
  const { tokens, close } = await openTokenStore({ paths, configUrl: configStoreUrl(paths) });
  try {
    return use(tokens);
  } finally {
    await close();
  }
}
