import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashToken, SqliteTokenStore, TokenNameError } from '../../server/auth/token-store.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';
import { tempHome } from '../helpers/harbor.ts';

test('tokens: issued once, stored hashed, verified, revoked, survive reopening', () => {
  const { home, cleanup } = tempHome();
  const file = join(home, 'harbor.db');
  try {
    let db = openDatabase(file);
    let store = new SqliteTokenStore(db);
    const { token, teammate } = store.issue('alice');
    assert.match(token, /^hbr_[A-Za-z0-9_-]{43}$/);
    assert.equal(teammate.name, 'alice');
    const row = db.prepare('SELECT token_hash FROM teammates').get() as { token_hash: Buffer };
    assert.deepEqual(row.token_hash, hashToken(token));
    const raw = db.prepare("SELECT * FROM teammates").all();
    assert.ok(!JSON.stringify(raw).includes(token.slice(4)), 'the plain token is not stored');
    assert.equal(store.verify(token)?.name, 'alice');
    assert.equal(store.verify(token + 'x'), null);
    assert.equal(store.verify('hbr_' + 'A'.repeat(43)), null);
    assert.throws(() => store.issue('alice'), TokenNameError);
    assert.throws(() => store.issue(''), TokenNameError);
    store.touch('alice');
    store.touch('alice');
    store.flush();
    db.close();

    db = openDatabase(file);
    store = new SqliteTokenStore(db);
    const [alice] = store.list();
    assert.equal(alice!.calls, 2);
    assert.ok(alice!.lastUsedAt);
    assert.equal(store.verify(token)?.name, 'alice');
    assert.equal(store.revoke('alice'), true);
    assert.equal(store.verify(token), null);
    assert.equal(store.revoke('alice'), false);
    // A revoked name can be issued again, with a new token; the old stays dead.
    const again = store.issue('alice');
    assert.equal(store.verify(token), null);
    assert.equal(store.verify(again.token)?.name, 'alice');
    const expiring = store.issue('temp', { expiresAt: Date.now() - 1 });
    assert.equal(store.verify(expiring.token), null);
    db.close();
  } finally {
    cleanup();
  }
});
