import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashToken, TokenNameError } from '../../server/auth/token-store.ts';
import { importTeammates } from '../../server/open-store.ts';
import { openPostgres } from '../../server/store/postgres-database.ts';
import { waitFor } from '../helpers/harbor.ts';
import { describeEachBackend } from './store-backends.ts';

describeEachBackend('token store', (backend) => {
  test('issued once, verified by hash, listed, revoked, and all of it survives reopening', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    const { token, teammate } = store.tokens.issue('  alice ', { scope: ['docs'] });
    assert.equal(teammate.name, 'alice');
    assert.match(token, /^hbr_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(store.tokens.verify(token)?.scope, ['docs']);
    assert.equal(store.tokens.verify(token + 'x'), null);
    assert.equal(store.tokens.verify('hbr_' + 'A'.repeat(43)), null);
    assert.throws(() => store.tokens.issue('alice'), TokenNameError, 'one active token per teammate');
    assert.throws(() => store.tokens.issue('bad/name'), TokenNameError);
    const bob = store.tokens.issue('bob').token;
    store.tokens.touch('alice', 1_000);
    store.tokens.touch('alice', 2_000);
    assert.equal(store.tokens.revoke('bob'), true);
    assert.equal(store.tokens.revoke('bob'), false, 'already revoked');
    assert.equal(store.tokens.revoke('nobody'), false);
    assert.equal(store.tokens.verify(bob), null, 'refused at once');
    await store.tokens.drain();
    await store.close();

    const reopened = await site.open();
    assert.equal(reopened.tokens.verify(token)?.name, 'alice');
    assert.equal(reopened.tokens.verify(bob), null);
    const listed = reopened.tokens.list().sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(listed.map((m) => [m.name, m.calls, m.lastUsedAt, m.revokedAt !== null]), [['alice', 2, 2_000, false], ['bob', 0, null, true]]);
    const again = reopened.tokens.issue('bob');
    assert.equal(reopened.tokens.verify(again.token)?.name, 'bob', 'a revoked name gets a new token');
    assert.equal(reopened.tokens.verify(bob), null, 'the old one stays refused');
  });

  test('hashed tokens from `harbor export --with-tokens` are imported once, by name or hash, and a later revocation holds', async (t) => {
    const site = await backend.fresh(t);
    const token = 'hbr_' + 'k'.repeat(43);
    const file = { format: 'harbor-hashed-tokens/1' as const, teammates: [{ name: 'frank', sha256: hashToken(token).toString('hex'), createdAt: 1, expiresAt: null, scope: null }] };
    assert.equal(await importTeammates(site, file), 1);
    assert.equal(await importTeammates(site, file), 0, 'a second replica importing the same file adds nothing');
    const store = await site.open();
    assert.equal(store.tokens.verify(token)?.name, 'frank');
    assert.equal(store.tokens.revoke('frank'), true);
    await store.tokens.drain();
    assert.equal(await importTeammates(site, file), 0, 'a restart does not bring a revoked token back');
    await store.close();
    assert.equal((await site.open()).tokens.verify(token), null);
  });

  test('an expired token is refused; expiry and scope are kept', async (t) => {
    const site = await backend.fresh(t);
    const store = await site.open();
    const { token } = store.tokens.issue('carol', { expiresAt: 5_000, scope: null });
    assert.equal(store.tokens.verify(token, 4_999)?.name, 'carol');
    assert.equal(store.tokens.verify(token, 5_000), null);
    await store.close();
    const reopened = await site.open();
    assert.equal(reopened.tokens.list()[0]?.expiresAt, 5_000);
    assert.equal(reopened.tokens.verify(token, 5_001), null);
  });

  test('two openers of one store (a host and the CLI, or two replicas): issues are honoured and revocations reported once', async (t) => {
    const site = await backend.fresh(t);
    const a = await site.open('replica-a');
    const b = await site.open('replica-b');
    const { token } = a.tokens.issue('dave');
    await a.tokens.drain();
    await waitFor(() => b.tokens.verify(token), 5_000, 'the other opener to honour the new token');
    assert.deepEqual(b.tokens.revokedElsewhere(), []);

    assert.equal(a.tokens.revoke('dave'), true);
    await a.tokens.drain();
    await waitFor(() => b.tokens.revokedElsewhere().includes('dave'), 5_000, 'the revocation to be reported elsewhere');
    assert.equal(b.tokens.verify(token), null);
    assert.deepEqual(b.tokens.revokedElsewhere(), [], 'reported once');
    assert.deepEqual(a.tokens.revokedElsewhere(), [], 'not reported back to the one that revoked');
  });

  test('PostgreSQL unreachable: a revocation is refused at once and written when it is back; verify never waits', { skip: backend.name === 'sqlite' ? 'the SQLite twin is test/faults (a full disk)' : false }, async (t) => {
    const site = await backend.fresh(t);
    const database = new URL(site.url!).pathname.slice(1);
    const admin = openPostgres(site.url!.replace(/\/[^/]+$/, '/postgres'), { max: 1 });
    t.after(() => admin.end());
    const a = await site.open('replica-a');
    const b = await site.open('replica-b');
    const { token } = a.tokens.issue('erin');
    await a.tokens.drain();
    await waitFor(() => b.tokens.verify(token), 5_000, 'B to honour the token');

    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    assert.equal(a.tokens.revoke('erin'), true);
    assert.equal(a.tokens.verify(token), null, 'refused on A at once, with nothing written');
    const failed = await a.tokens.drain().then(() => null, (error: Error) => error);
    assert.ok(failed, 'the write fails while the database refuses connections');
    assert.equal(a.tokens.pending.revocations, 1);
    assert.equal(b.tokens.verify(token)?.name, 'erin', 'B answers from its last view (it cannot know yet)');

    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await a.tokens.drain();
    assert.equal(a.tokens.pending.revocations, 0);
    // B's LISTEN connection comes back on its own and reloads.
    await waitFor(() => b.tokens.revokedElsewhere().includes('erin'), 15_000, 'B to learn of the revocation after reconnecting');
    assert.equal(b.tokens.verify(token), null);
  });
});
