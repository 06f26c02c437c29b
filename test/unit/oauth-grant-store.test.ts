import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteGrantStore } from '../../server/oauth/grant-store.ts';
import { SqliteInviteStore } from '../../server/oauth/invite-store.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';

const GRANT = { clientId: 'client-1', teammate: 'alice', resource: 'http://127.0.0.1:1/mcp/docs', scopes: ['mcp'] };

function store() {
  const clock = { now: 1_000_000 };
  const db = openDatabase(':memory:');
  return { db, clock, grants: new SqliteGrantStore(db, { now: () => clock.now }), invites: new SqliteInviteStore(db, { now: () => clock.now }) };
}

test('codes and tokens are stored as SHA-256 hashes only: the database holds no usable secret', () => {
  const { db, grants } = store();
  const code = grants.issueCode({ ...GRANT, codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' });
  const redeemed = grants.redeemCode(code, 'client-1');
  const tokens = grants.issueTokens(redeemed, redeemed.family);
  const dump = JSON.stringify([db.prepare('SELECT * FROM oauth_codes').all(), db.prepare('SELECT * FROM oauth_tokens').all()], (_k, v) =>
    v && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v,
  );
  for (const secret of [code, tokens.accessToken, tokens.refreshToken]) {
    assert.ok(!dump.includes(secret) && !dump.includes(secret.slice(4)), 'plain secret absent');
  }
  assert.equal(grants.verifyAccess(tokens.accessToken)?.teammate, 'alice');
  assert.equal(grants.verifyAccess(tokens.refreshToken), null, 'a refresh token is not an access token');
  assert.equal(grants.verifyAccess('hoa_' + 'x'.repeat(43)), null);
});

test('a code redeems once, for its client, before it expires; a replay revokes what the first use issued', () => {
  const { clock, grants } = store();
  const code = grants.issueCode({ ...GRANT, codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' });
  assert.throws(() => grants.redeemCode(code, 'client-2'), /unknown authorization code/);
  const first = grants.redeemCode(code, 'client-1');
  const tokens = grants.issueTokens(first, first.family);
  assert.throws(() => grants.redeemCode(code, 'client-1'), /already used/);
  assert.equal(grants.verifyAccess(tokens.accessToken), null);

  const late = grants.issueCode({ ...GRANT, codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' });
  clock.now += grants.codeTtlMs;
  assert.equal(grants.peekCode(late, 'client-1'), null);
  assert.throws(() => grants.redeemCode(late, 'client-1'), /expired/);
});

test('refresh rotates within the family; a spent refresh token presented again ends the family', () => {
  const { clock, grants } = store();
  const first = grants.issueTokens(GRANT, 'family-1');
  clock.now += 1000;
  const { tokens: second } = grants.rotateRefresh(first.refreshToken, 'client-1');
  assert.equal(grants.verifyAccess(first.accessToken), null, 'the old access token goes with the rotation');
  assert.ok(grants.verifyAccess(second.accessToken));
  assert.throws(() => grants.rotateRefresh(first.refreshToken, 'client-1'), /already used/);
  assert.equal(grants.verifyAccess(second.accessToken), null, 'reuse detected: the live pair is revoked');
  assert.throws(() => grants.rotateRefresh(second.refreshToken, 'client-1'), /already used or revoked/);
  assert.throws(() => grants.rotateRefresh(grants.issueTokens(GRANT, 'f2').refreshToken, 'other-client'), /unknown/);
});

test('expiry follows the injected clock; revocation by token and by teammate; live sign-ins listed', () => {
  const { clock, grants } = store();
  grants.saveClient('client-1', { client_id: 'client-1', client_name: 'Cursor' });
  const a = grants.issueTokens(GRANT, 'fa');
  clock.now += 1; // listed in order of sign-in
  const b = grants.issueTokens({ ...GRANT, teammate: 'bob' }, 'fb');
  assert.deepEqual(grants.grants().map((g) => [g.teammate, g.clientName]), [['alice', 'Cursor'], ['bob', 'Cursor']]);
  grants.revoke(b.refreshToken, 'client-1');
  assert.equal(grants.verifyAccess(b.accessToken), null, 'revoking the refresh token ends the pair');
  assert.equal(grants.revokeTeammate('alice'), 2);
  assert.equal(grants.verifyAccess(a.accessToken), null);
  assert.deepEqual(grants.grants(), []);
  const c = grants.issueTokens(GRANT, 'fc');
  clock.now += grants.accessTtlMs;
  assert.equal(grants.verifyAccess(c.accessToken), null);
  assert.ok(grants.rotateRefresh(c.refreshToken, 'client-1'));
});

test('invites: names compare case-insensitively; a code is single-use, typed loosely, and expires', () => {
  const { clock, invites } = store();
  assert.throws(() => invites.invite('<script>'), /teammate name/);
  const made = invites.invite('Alice', { withCode: true });
  assert.equal(invites.invited('alice'), 'Alice');
  assert.equal(invites.redeemCode(made.code!.toLowerCase().replace('-', '')), 'Alice');
  assert.equal(invites.redeemCode(made.code!), null, 'spent');
  assert.equal(invites.list()[0]?.hasCode, false);
  const again = invites.invite('alice2', { withCode: true });
  clock.now += invites.ttlMs;
  assert.equal(invites.redeemCode(again.code!), null, 'expired with the invite');
  assert.equal(invites.invited('alice2'), null);
});

test('prune forgets expired codes and tokens, and clients that never got a token', () => {
  const { db, clock, grants } = store();
  grants.saveClient('idle', { client_id: 'idle' });
  grants.saveClient('client-1', { client_id: 'client-1' });
  grants.issueCode({ ...GRANT, codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' });
  clock.now += 20 * 86_400_000;
  grants.issueTokens(GRANT, 'f');
  clock.now += 11 * 86_400_000; // the access token is long expired, the refresh token lives on
  grants.prune();
  const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  assert.deepEqual([count('oauth_codes'), count('oauth_tokens'), count('oauth_clients')], [0, 1, 1], 'the live refresh token keeps its client');
  assert.equal(grants.getClient('idle'), undefined);
});
