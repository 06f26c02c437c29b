import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashToken, SqliteTokenStore, TokenNameError } from '../../server/auth/token-store.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';
import { tempHome } from '../helpers/harbor.ts';
import { mountSmallDisk } from '../helpers/tmpfs.ts';

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

test('revocations written by another process are reported once, and refused at once', (t) => {
  const { home, cleanup } = tempHome();
  t.after(cleanup);
  const file = join(home, 'harbor.db');
  const hostDb = openDatabase(file);
  t.after(() => hostDb.close());
  const host = new SqliteTokenStore(hostDb);
  const { token: alice } = host.issue('alice');
  host.issue('bo');
  assert.ok(host.verify(alice), 'cached as valid');
  assert.deepEqual(host.revokedElsewhere(), [], 'nothing changed');
  host.revoke('bo');
  assert.deepEqual(host.revokedElsewhere(), [], 'its own revocations are not reported again');

  const cli = openDatabase(file); // the CLI's fallback: its own connection, as another process has
  assert.equal(new SqliteTokenStore(cli).revoke('alice'), true);
  cli.close();
  assert.deepEqual(host.revokedElsewhere(), ['alice']);
  assert.equal(host.verify(alice), null, 'the verify cache was dropped with the change');
  assert.deepEqual(host.revokedElsewhere(), [], 'reported once');
});

test('a full disk: revocation refuses at once without a write, use counts wait; both are written when space returns', (t) => {
  const disk = mountSmallDisk(2 * 1024 * 1024);
  if ('skip' in disk) return t.skip(disk.skip);
  t.after(() => disk.unmount());
  const file = join(disk.dir, 'harbor.db');
  const db = openDatabase(file);
  const store = new SqliteTokenStore(db);
  const { token: alice } = store.issue('alice');
  const { token: bo } = store.issue('bo');
  store.flush();

  disk.fill();
  for (let i = 0; i < 322; i++) store.touch(i % 2 ? 'alice' : 'bo', 1_000 + i);
  assert.throws(() => store.flush(), /full|disk/i, 'the write fails');
  assert.deepEqual(store.pending, { revocations: 0, usage: 322, usageDropped: 0 }, 'kept, coalesced per teammate');
  assert.equal(store.revoke('alice'), true);
  assert.equal(store.verify(alice), null, 'refused at once, from memory');
  assert.ok(store.verify(bo));
  assert.equal(store.revoke('alice'), false, 'already revoked');
  assert.equal(store.pending.revocations, 1);
  assert.throws(() => store.issue('alice'), /full|disk/i, 'a new token cannot be issued before the revocation is written');
  const listed = store.list();
  assert.ok(listed.find((m) => m.name === 'alice')!.revokedAt, 'listed as revoked');
  assert.equal(listed.reduce((n, m) => n + m.calls, 0), 322);

  disk.free();
  store.flush();
  assert.deepEqual(store.pending, { revocations: 0, usage: 0, usageDropped: 0 });
  db.close();
  const reopened = openDatabase(file);
  t.after(() => reopened.close());
  const fresh = new SqliteTokenStore(reopened);
  assert.equal(fresh.verify(alice), null, 'the revocation is on disk');
  assert.ok(fresh.verify(bo));
  const rows = fresh.list();
  assert.equal(rows.reduce((n, m) => n + m.calls, 0), 322, 'no use count lost');
  assert.equal(rows.find((m) => m.name === 'bo')!.lastUsedAt, 1_000 + 320);
  assert.equal(reopened.pragma('integrity_check', { simple: true }), 'ok');
});
