import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SignInStores } from '../../server/oauth/sign-in-stores.ts';
import type { AuthorizationRequest } from '../../server/oauth/sign-in-requests.ts';
import { hashToken } from '../../server/auth/token-store.ts';
import { grantMigrations } from '../../server/oauth/grant-store.ts';
import { openPostgres } from '../../server/store/postgres-database.ts';
import { waitFor } from '../helpers/harbor.ts';
import { describeEachBackend, writeAtSchema, type StoreBackend, type StoreSite } from './store-backends.ts';

/**
 * Sign in with Harbor's stores (grants, invites, waiting sign-in requests) on both backends: the home's
 * SQLite file (and memory), and a real PostgreSQL 15 where two replicas share the tables.
 */

const GRANT = { clientId: 'client-1', teammate: 'alice', resource: 'http://127.0.0.1:1/mcp/docs', scopes: ['mcp'] };
const CODE = { ...GRANT, codeChallenge: 'c', redirectUri: 'http://127.0.0.1/cb' };
const AUTH: AuthorizationRequest = { clientId: 'c', clientName: 'Cursor', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', scopes: ['mcp'], resource: 'r', issuer: 'i' };

interface Opened {
  site: StoreSite;
  clock: { now: number };
  stores: SignInStores;
  /** Rows in a table, read from the backend itself. */
  rows(table: string): Promise<Array<Record<string, unknown>>>;
}

async function open(backend: StoreBackend, t: TestContext, options: { ttlMs?: number; maxRequests?: number } = {}): Promise<Opened> {
  const site = await backend.fresh(t);
  const store = await site.open();
  const clock = { now: 1_000_000 };
  const stores = await store.signIn({ now: () => clock.now, ...(options.ttlMs ? { requestTtlMs: options.ttlMs } : {}), ...(options.maxRequests ? { maxRequests: options.maxRequests } : {}) });
  let rows: Opened['rows'];
  if (site.url) {
    const pool = openPostgres(site.url, { max: 1 });
    t.after(() => pool.end());
    rows = async (table) => (await pool.query(`SELECT * FROM ${table}`)).rows;
  } else {
    rows = async (table) => store.db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>;
  }
  return { site, clock, stores, rows };
}

const status = (code: number) => (e: { status?: number }) => e.status === code;

/** The grant tables as the previous schema left them (every shared step but the last), with alice's access token in. */
function writeOldGrant(site: StoreSite, accessToken: string): Promise<void> {
  const row = [hashToken(accessToken), 'access', 'old-family', 'https://docs.example.com/client.json', 'alice', 'http://127.0.0.1:1/mcp/docs', '["mcp"]', Date.now(), Date.now() + 3_600_000];
  const schema = {
    component: site.url ? 'oauth-grants' : 'oauth',
    sqlite: grantMigrations({ bytes: 'BLOB', integer: 'INTEGER' }).slice(0, -1),
    postgres: grantMigrations({ bytes: 'BYTEA', integer: 'BIGINT' }).slice(0, -1),
  };
  return writeAtSchema(site, schema, 'INSERT INTO oauth_tokens (token_hash, kind, family, client_id, teammate, resource, scopes, created_at, expires_at)', row);
}

describeEachBackend('grant store', (backend) => {
  test('the client name the owner approved is stored with the tokens: kept by rotation, read back after a restart; a grant from the previous schema kept', async (t) => {
    const site = await backend.fresh(t);
    const oldAccess = 'hoa_' + 'o'.repeat(43);
    await writeOldGrant(site, oldAccess);
    const first = await site.open();
    const grants = (await first.signIn()).grants;
    const old = await grants.verifyAccess(oldAccess);
    assert.deepEqual([old?.teammate, old?.clientName], ['alice', null], 'the stored row survives the migration, with no name');

    // A metadata-document client: in no clients table, its document cached in memory only.
    const doc = { ...GRANT, clientId: 'https://docs.example.com/client.json', clientName: 'Doc Client (docs.example.com)' };
    const issued = await grants.issueTokens(doc, 'family-doc');
    assert.equal((await grants.verifyAccess(issued.accessToken))?.clientName, 'Doc Client (docs.example.com)');
    const { tokens: rotated } = await grants.rotateRefresh(issued.refreshToken, doc.clientId);
    assert.equal((await grants.verifyAccess(rotated.accessToken))?.clientName, 'Doc Client (docs.example.com)', 'the rotated pair keeps the name');
    await first.close();

    // A restart: a new store over the same tables.
    const again = (await (await site.open()).signIn()).grants;
    assert.equal((await again.verifyAccess(rotated.accessToken))?.clientName, 'Doc Client (docs.example.com)');
    assert.deepEqual((await again.grants()).map((g) => [g.teammate, g.clientId, g.clientName]), [['alice', doc.clientId, 'Doc Client (docs.example.com)']]);
  });

  test('codes and tokens are stored as SHA-256 hashes only: the database holds no usable secret', async (t) => {
    const { stores: { grants }, rows } = await open(backend, t);
    const code = await grants.issueCode(CODE);
    const redeemed = await grants.redeemCode(code, 'client-1');
    const tokens = await grants.issueTokens(redeemed, redeemed.family);
    const dump = JSON.stringify([await rows('oauth_codes'), await rows('oauth_tokens')], (_k, v) =>
      v && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v,
    );
    for (const secret of [code, tokens.accessToken, tokens.refreshToken]) {
      assert.ok(!dump.includes(secret) && !dump.includes(secret.slice(4)), 'plain secret absent');
    }
    assert.equal((await grants.verifyAccess(tokens.accessToken))?.teammate, 'alice');
    assert.equal(await grants.verifyAccess(tokens.refreshToken), null, 'a refresh token is not an access token');
    assert.equal(await grants.verifyAccess('hoa_' + 'x'.repeat(43)), null);
  });

  test('a code redeems once, for its client, before it expires; a replay revokes what the first use issued', async (t) => {
    const { clock, stores: { grants } } = await open(backend, t);
    const code = await grants.issueCode(CODE);
    await assert.rejects(grants.redeemCode(code, 'client-2'), /unknown authorization code/);
    assert.equal((await grants.peekCode(code, 'client-1'))?.codeChallenge, 'c');
    const first = await grants.redeemCode(code, 'client-1');
    const tokens = await grants.issueTokens(first, first.family);
    assert.ok(await grants.verifyAccess(tokens.accessToken), 'verified (and remembered)');
    await assert.rejects(grants.redeemCode(code, 'client-1'), /already used/);
    assert.equal(await grants.verifyAccess(tokens.accessToken), null);

    // A replay between the redemption and the issue (the SDK makes them two calls): nothing is issued.
    const raced = await grants.issueCode(CODE);
    const winner = await grants.redeemCode(raced, 'client-1');
    await assert.rejects(grants.redeemCode(raced, 'client-1'), /already used/);
    await assert.rejects(grants.issueTokens(winner, winner.family), /already used/);
    assert.deepEqual(await grants.grants(), []);

    const late = await grants.issueCode(CODE);
    clock.now += grants.codeTtlMs;
    assert.equal(await grants.peekCode(late, 'client-1'), null);
    await assert.rejects(grants.redeemCode(late, 'client-1'), /expired/);
  });

  test('refresh rotates within the family; a spent refresh token presented again ends the family', async (t) => {
    const { clock, stores: { grants } } = await open(backend, t);
    const first = await grants.issueTokens(GRANT, 'family-1');
    assert.ok(await grants.verifyAccess(first.accessToken));
    clock.now += 1000;
    const { tokens: second } = await grants.rotateRefresh(first.refreshToken, 'client-1');
    assert.equal(await grants.verifyAccess(first.accessToken), null, 'the old access token goes with the rotation');
    assert.ok(await grants.verifyAccess(second.accessToken));
    await assert.rejects(grants.rotateRefresh(first.refreshToken, 'client-1'), /already used/);
    assert.equal(await grants.verifyAccess(second.accessToken), null, 'reuse detected: the live pair is revoked');
    await assert.rejects(grants.rotateRefresh(second.refreshToken, 'client-1'), /already used or revoked/);
    await assert.rejects(grants.rotateRefresh((await grants.issueTokens(GRANT, 'f2')).refreshToken, 'other-client'), /unknown/);
  });

  test('expiry follows the injected clock; revocation by token and by teammate; live sign-ins listed', async (t) => {
    const { clock, stores: { grants } } = await open(backend, t);
    await grants.saveClient('client-1', { client_id: 'client-1', client_name: 'Cursor' });
    assert.equal((await grants.getClient('client-1'))?.client_name, 'Cursor');
    const a = await grants.issueTokens(GRANT, 'fa');
    clock.now += 1; // listed in order of sign-in
    const b = await grants.issueTokens({ ...GRANT, teammate: 'bob' }, 'fb');
    assert.deepEqual((await grants.grants()).map((g) => [g.teammate, g.clientName]), [['alice', 'Cursor'], ['bob', 'Cursor']]);
    assert.ok(await grants.verifyAccess(b.accessToken));
    await grants.revoke(b.refreshToken, 'client-1');
    assert.equal(await grants.verifyAccess(b.accessToken), null, 'revoking the refresh token ends the pair');
    assert.ok(await grants.verifyAccess(a.accessToken));
    assert.equal(await grants.revokeTeammate('alice'), 2);
    assert.equal(await grants.verifyAccess(a.accessToken), null);
    assert.deepEqual(await grants.grants(), []);
    const c = await grants.issueTokens(GRANT, 'fc');
    assert.ok(await grants.verifyAccess(c.accessToken));
    clock.now += grants.accessTtlMs;
    assert.equal(await grants.verifyAccess(c.accessToken), null, 'expired, even when remembered');
    assert.ok(await grants.rotateRefresh(c.refreshToken, 'client-1'));
  });

  test('prune forgets expired codes and tokens, and clients that never got a token', async (t) => {
    const { clock, stores: { grants }, rows } = await open(backend, t);
    await grants.saveClient('idle', { client_id: 'idle' });
    await grants.saveClient('client-1', { client_id: 'client-1' });
    await grants.issueCode(CODE);
    clock.now += 20 * 86_400_000;
    await grants.issueTokens(GRANT, 'f');
    clock.now += 11 * 86_400_000; // the access token is long expired, the refresh token lives on
    await grants.prune();
    const counts = await Promise.all(['oauth_codes', 'oauth_tokens', 'oauth_clients'].map(async (table) => (await rows(table)).length));
    assert.deepEqual(counts, [0, 1, 1], 'the live refresh token keeps its client');
    assert.equal(await grants.getClient('idle'), undefined);
  });

  test('invites: names compare case-insensitively; a code is single-use, typed loosely, and expires', async (t) => {
    const { clock, stores: { invites } } = await open(backend, t);
    await assert.rejects(invites.invite('<script>'), /teammate name/);
    const made = await invites.invite('Alice', { withCode: true });
    assert.equal(await invites.invited('alice'), 'Alice');
    assert.equal(await invites.redeemCode(made.code!.toLowerCase().replace('-', '')), 'Alice');
    assert.equal(await invites.redeemCode(made.code!), null, 'spent');
    assert.equal((await invites.list())[0]?.hasCode, false);
    const again = await invites.invite('alice2', { withCode: true });
    clock.now += invites.ttlMs;
    assert.equal(await invites.redeemCode(again.code!), null, 'expired with the invite');
    assert.equal(await invites.invited('alice2'), null);
  });

  test('a sign-in request answers only the browser that opened it, and the form only with its CSRF token', async (t) => {
    const { stores: { requests } } = await open(backend, t);
    const r = await requests.open(AUTH);
    assert.deepEqual((await requests.get(r.id, r.browser)).authorization, AUTH);
    await assert.rejects(requests.get(r.id, undefined), status(403));
    await assert.rejects(requests.get(r.id, 'other'), status(403));
    await assert.rejects(requests.get(r.id, r.browser, null), status(403));
    await assert.rejects(requests.get(r.id, r.browser, r.csrf + 'x'), status(403));
    assert.equal((await requests.get(r.id, r.browser, r.csrf)).id, r.id);
    await assert.rejects(requests.get('000000000000', r.browser), status(404));
  });

  test('waiting, the owner decides once, the code is claimed once; requests expire after the TTL, counted again from submission', async (t) => {
    const { clock, stores: { requests } } = await open(backend, t, { ttlMs: 1000 });
    const asked: string[] = [];
    requests.onWaiting = (a) => asked.push(a.teammate);
    const start = clock.now;
    const r = await requests.open(AUTH);
    clock.now = start + 900;
    await requests.submit(r.id, 'alice', { invited: false, preApproved: false });
    await assert.rejects(requests.submit(r.id, 'alice', { invited: false, preApproved: false }), /already submitted/);
    clock.now = start + 1800; // 1.8 s after opening, 0.9 s after submitting: still waiting
    assert.deepEqual((await requests.pending()).map((p) => [p.teammate, p.client, p.expiresAt]), [['alice', 'Cursor', start + 1900]]);
    await waitFor(() => asked.length === 1, 10_000, 'the waiting notice');
    assert.deepEqual(asked, ['alice']);
    clock.now = start + 1900;
    assert.deepEqual(await requests.pending(), []);
    await assert.rejects(requests.decide(r.id, true), /no sign-in request/);

    const s = await requests.open(AUTH);
    await requests.submit(s.id, 'bob', { invited: true, preApproved: false });
    assert.equal((await requests.decide(s.id, true)).teammate, 'bob');
    await assert.rejects(requests.decide(s.id, false), /no sign-in request/, 'answered once');
    assert.equal((await requests.get(s.id, s.browser)).status, 'approved');
    assert.equal(await requests.finish(s.id, 'denied'), false, 'not in that state');
    assert.equal(await requests.finish(s.id, 'approved'), true);
    assert.equal(await requests.finish(s.id, 'approved'), false, 'claimed once: one code');

    const u = await requests.open(AUTH);
    await requests.submit(u.id, 'carol', { invited: false, preApproved: false });
    await requests.dropTeammate('carol');
    await assert.rejects(requests.get(u.id, u.browser), status(404), "a revoked teammate's request is gone");
  });

  test('the requests are bounded: beyond the cap new sign-ins are refused with 503 until old ones expire', async (t) => {
    const { clock, stores: { requests } } = await open(backend, t, { ttlMs: 1000, maxRequests: 3 });
    for (let i = 0; i < 3; i++) await requests.open(AUTH);
    await assert.rejects(requests.open(AUTH), status(503));
    clock.now += 1000;
    await requests.open(AUTH);
    await assert.rejects(requests.open(AUTH).then(() => requests.open(AUTH)).then(() => requests.open(AUTH)), status(503));
  });

  const onlyShared = backend.name === 'postgres' ? false : 'two replicas share sign-ins only through PostgreSQL';

  test('two replicas on one database: a code and a refresh token are each spent once, whichever replica is asked', { skip: onlyShared }, async (t) => {
    const site = await backend.fresh(t);
    const [a, b] = await Promise.all([site.open('replica-a').then((s) => s.signIn()), site.open('replica-b').then((s) => s.signIn())]);
    for (let round = 0; round < 5; round++) {
      const code = await a.grants.issueCode(CODE);
      const redeemed = await Promise.allSettled([a.grants.redeemCode(code, 'client-1'), b.grants.redeemCode(code, 'client-1')]);
      const winners = redeemed.flatMap((r, i) => (r.status === 'fulfilled' ? [{ store: [a, b][i]!, grant: r.value }] : []));
      assert.equal(winners.length, 1, 'one redemption wins');
      assert.match(String((redeemed.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /already used/);
      // The loser was a replay: the winner gets no tokens either (one of the two is not the client).
      await assert.rejects(winners[0]!.store.grants.issueTokens(winners[0]!.grant, winners[0]!.grant.family), /already used/);

      const pair = await a.grants.issueTokens(GRANT, `family-${round}`);
      const rotated = await Promise.allSettled([a.grants.rotateRefresh(pair.refreshToken, 'client-1'), b.grants.rotateRefresh(pair.refreshToken, 'client-1')]);
      const won = rotated.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, 'one rotation wins');
      // The other presented a spent refresh token: reuse, so the family (the winner's new pair too) ends.
      const fresh = (won[0] as PromiseFulfilledResult<{ tokens: { accessToken: string } }>).value.tokens.accessToken;
      assert.equal(await a.grants.verifyAccess(fresh), null);
      assert.equal(await b.grants.verifyAccess(fresh), null);
    }
  });

  test('two replicas on one database: a revocation through A reaches B\'s remembered answers; a sign-in opened on A completes on B', { skip: onlyShared }, async (t) => {
    const site = await backend.fresh(t);
    const [a, b] = await Promise.all([site.open('replica-a').then((s) => s.signIn()), site.open('replica-b').then((s) => s.signIn())]);
    const pair = await a.grants.issueTokens(GRANT, 'family-r');
    const bob = await a.grants.issueTokens({ ...GRANT, teammate: 'bob' }, 'family-b');
    assert.equal((await b.grants.verifyAccess(pair.accessToken))?.teammate, 'alice', 'B reads it once, then remembers');
    assert.ok(await b.grants.verifyAccess(bob.accessToken));
    const endedOnB: string[] = [];
    b.onTeammateRevoked!((name) => endedOnB.push(name));
    const revokedAt = Date.now();
    assert.equal(await a.grants.revokeTeammate('alice'), 2);
    await waitFor(async () => (await b.grants.verifyAccess(pair.accessToken)) === null, 10_000, 'B to refuse the revoked token');
    t.diagnostic(`revoked through A: B refuses the remembered token ${Date.now() - revokedAt} ms after the revocation was sent`);
    await waitFor(() => endedOnB.includes('alice'), 10_000, "B to hear that alice's sign-ins ended");
    assert.deepEqual(endedOnB, ['alice'], 'told once, by the notice from A');
    assert.ok(await b.grants.verifyAccess(bob.accessToken), "bob's sign-in is untouched");
    await a.grants.revoke(bob.refreshToken, 'client-1');
    await waitFor(async () => (await b.grants.verifyAccess(bob.accessToken)) === null, 10_000, 'B to refuse the family revoked on A');

    const askedOn: string[] = [];
    a.requests.onWaiting = (p) => askedOn.push(`a:${p.teammate}`);
    b.requests.onWaiting = (p) => askedOn.push(`b:${p.teammate}`);
    const opened = await a.requests.open(AUTH);
    assert.equal((await b.requests.get(opened.id, opened.browser, opened.csrf)).status, 'form');
    await b.requests.submit(opened.id, 'dana', { invited: false, preApproved: false });
    assert.deepEqual((await a.requests.pending()).map((p) => p.teammate), ['dana']);
    await waitFor(() => askedOn.length === 2, 10_000, 'the owner to be told on both replicas');
    assert.deepEqual(askedOn.sort(), ['a:dana', 'b:dana'], 'once on each replica');
    await a.requests.decide(opened.id, true);
    assert.equal((await b.requests.get(opened.id, opened.browser)).status, 'approved');
    const claims = await Promise.all([a.requests.finish(opened.id, 'approved'), b.requests.finish(opened.id, 'approved')]);
    assert.deepEqual(claims.sort(), [false, true], 'one code for one approval');
  });
});
