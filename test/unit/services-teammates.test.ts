import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteTokenStore } from '../../server/auth/token-store.ts';
import { harborPaths } from '../../server/harbor-home.ts';
import { ServiceInputError } from '../../server/services/input-error.ts';
import { servedNames, usesSharedStore, withOfflineTeammates } from '../../server/services/offline-services.ts';
import { scopeProblem, teammatesService } from '../../server/services/teammates.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';
import { loadConfig } from '../../server/config/load-config.ts';
import { tempHome } from '../helpers/harbor.ts';

/** The teammates service over a real SQLite token store in a temp home. */
function realStore(t: { after: (fn: () => void | Promise<void>) => void }) {
  const { home, cleanup } = tempHome();
  const db = openDatabase(join(home, 'harbor.db'));
  const tokens = new SqliteTokenStore(db);
  t.after(async () => {
    await tokens.close();
    db.close();
    cleanup();
  });
  return { home, tokens };
}

test('issue: a token the store verifies, bundles for the scoped servers only, at the base URL, one merged snippet per client', (t) => {
  const { tokens } = realStore(t);
  let base = 'http://127.0.0.1:7837';
  const teammates = teammatesService({ tokens, serverNames: () => ['docs', 'fx', 'memory'], baseUrl: () => base });
  base = 'https://shared.example.com'; // read when issuing, not when the service was built
  const issued = teammates.issue(' ana ', { scope: ['fx', 'memory'], expiresAt: 9_999_999_999_999 });
  assert.equal(issued.teammate.name, 'ana');
  assert.deepEqual(tokens.verify(issued.token)?.scope, ['fx', 'memory']);
  assert.equal(tokens.verify(issued.token)?.expiresAt, 9_999_999_999_999);
  assert.deepEqual(issued.bundles.map((b) => b.serverName), ['fx', 'memory']);
  assert.deepEqual(issued.bundles.map((b) => b.url), ['https://shared.example.com/fx/mcp', 'https://shared.example.com/memory/mcp']);
  assert.ok(issued.bundles.every((b) => b.teammate === 'ana' && b.connectorUrl.includes(issued.token)));
  const clients = issued.merged.map((s) => s.client);
  assert.equal(new Set(clients).size, clients.length, 'one merged snippet per client');
  assert.ok(issued.merged.find((s) => s.client === 'cursor')?.text.includes('"memory"'));
  // No scope: every server.
  assert.deepEqual(teammates.issue('bo').bundles.map((b) => b.serverName), ['docs', 'fx', 'memory']);
  assert.deepEqual(teammates.list().map((m) => m.name).sort(), ['ana', 'bo']);
});

test('issue: a scope naming no server is refused with status 400 and nothing stored; a taken name is the store\'s error', (t) => {
  const { tokens } = realStore(t);
  const teammates = teammatesService({ tokens, serverNames: () => ['docs'], baseUrl: () => 'http://127.0.0.1:1' });
  assert.match(scopeProblem(['docs', 'has space']) ?? '', /^"has space" is not a server name \(server names use/);
  assert.equal(scopeProblem(['docs']), null);
  assert.equal(scopeProblem(null), null);
  assert.throws(() => teammates.issue('cy', { scope: ['a/b'] }), (error: unknown) => {
    assert.ok(error instanceof ServiceInputError);
    assert.equal(error.status, 400);
    assert.match(error.message, /^scope: "a\/b" is not a server name/);
    return true;
  });
  assert.deepEqual(teammates.list(), []);
  teammates.issue('cy');
  assert.throws(() => teammates.issue('cy'), { name: 'TokenNameError' });
});

test('revoke: the token, the sign-ins and the open sessions go together; an unknown name touches nothing', async (t) => {
  const { tokens } = realStore(t);
  const ended: Array<[string, string]> = [];
  const signInsRevoked: string[] = [];
  const teammates = teammatesService({
    tokens,
    serverNames: () => ['docs'],
    baseUrl: () => 'http://127.0.0.1:1',
    signIns: { revokeTeammate: (name) => (signInsRevoked.push(name), name === 'oauth-only' ? 2 : 0) },
    endSessions: async (name, reason) => (ended.push([name, reason]), 3),
  });
  const { token } = teammates.issue('ana');
  assert.deepEqual(await teammates.revoke('ana'), { name: 'ana', tokenRevoked: true, signInTokensRevoked: 0, sessionsClosed: 3 });
  assert.equal(tokens.verify(token), null);
  assert.deepEqual(await teammates.revoke('oauth-only'), { name: 'oauth-only', tokenRevoked: false, signInTokensRevoked: 2, sessionsClosed: 3 });
  assert.deepEqual(await teammates.revoke('nobody'), { name: 'nobody', tokenRevoked: false, signInTokensRevoked: 0, sessionsClosed: 0 });
  assert.deepEqual(signInsRevoked, ['ana', 'oauth-only', 'nobody']);
  assert.deepEqual(ended, [['ana', 'token revoked'], ['oauth-only', 'token revoked']]);
  // Without a host (the CLI offline): no sign-ins to count, no sessions to end.
  const offline = teammatesService({ tokens, serverNames: () => [], baseUrl: () => '' });
  offline.issue('bo');
  assert.deepEqual(await offline.revoke('bo'), { name: 'bo', tokenRevoked: true, signInTokensRevoked: null, sessionsClosed: 0 });
});

test('offline: the home\'s SQLite file, bundles for what config.json has the host serve (docs, enabled entries) at its port', async (t) => {
  const { home, cleanup } = tempHome();
  t.after(cleanup);
  const paths = harborPaths(home);
  writeFileSync(paths.config, JSON.stringify({
    port: 7901,
    mcpServers: { fx: { command: 'node', args: ['x.js'] }, off: { command: 'node', disabled: true } },
  }));
  const env = { ...process.env, HARBOR_DATABASE_URL: '' };
  assert.deepEqual(servedNames(loadConfig(paths.config, { docsFolder: paths.docs }).config), ['docs', 'fx']);
  assert.equal(usesSharedStore({ paths, env }), false);
  assert.equal(usesSharedStore({ paths, env: { ...env, HARBOR_DATABASE_URL: 'postgres://h/db' } }), true);

  const issued = await withOfflineTeammates({ paths, env }, (teammates) => teammates.issue('ana'));
  assert.deepEqual(issued.bundles.map((b) => b.url), ['http://127.0.0.1:7901/docs/mcp', 'http://127.0.0.1:7901/fx/mcp']);
  // Written before the promise resolved: a second opening (another CLI run) sees it, and revokes it.
  const listed = await withOfflineTeammates({ paths, env }, (teammates) => teammates.list());
  assert.deepEqual(listed.map((m) => [m.name, m.revokedAt]), [['ana', null]]);
  assert.equal((await withOfflineTeammates({ paths, env }, (teammates) => teammates.revoke('ana'))).tokenRevoked, true);
  const db = openDatabase(paths.database);
  const tokens = new SqliteTokenStore(db);
  try {
    assert.equal(tokens.verify(issued.token), null);
    assert.ok(tokens.list()[0]?.revokedAt);
  } finally {
    await tokens.close();
    db.close();
  }
});
