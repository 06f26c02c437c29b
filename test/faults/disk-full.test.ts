import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENEROUS_LIMITS, isAlive, connectClient, textOf, waitFor } from '../helpers/harbor.ts';
import { harbor, spawnServe } from '../helpers/harbor-cli.ts';
import { mountSmallDisk } from '../helpers/tmpfs.ts';

const CALLS_WHILE_FULL = 300;

/** Reads the database as an outside observer (its own connection, read-only). */
function readDb<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

const auditRows = (file: string, teammate: string) =>
  readDb(file, (db) => (db.prepare('SELECT count(*) AS n FROM audit_log WHERE teammate = ?').get(teammate) as { n: number }).n);

test('harbor serve on a full disk: serving and revocation go on, logs drop, the backlog is written when space returns, stop finishes', async (t) => {
  const disk = mountSmallDisk(2 * 1024 * 1024);
  if ('skip' in disk) return t.skip(disk.skip);
  t.after(() => disk.unmount());
  const home = disk.dir;
  const database = join(home, 'harbor.db');
  writeFileSync(join(home, 'config.json'), JSON.stringify({ docs: { folder: join(home, 'docs') }, limits: GENEROUS_LIMITS }));
  const alice = (JSON.parse((await harbor(home, 'token', 'add', 'alice', '--json')).stdout) as { token: string }).token;
  const bo = (JSON.parse((await harbor(home, 'token', 'add', 'bo', '--json')).stdout) as { token: string }).token;

  const served = spawnServe({ ...process.env, HARBOR_HOME: home });
  const { child: serve, exited } = served;
  t.after(async () => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
    await exited;
  });
  const url = await served.url;
  const status = async () => JSON.parse((await harbor(home, 'status', '--json')).stdout) as { host: { pid: number } };
  const hostPid = (await status()).host.pid;

  const client = await connectClient(url, 'docs', alice);
  t.after(() => client.close());
  const boClient = await connectClient(url, 'docs', bo, { name: 'bo' });
  assert.match(textOf(await client.callTool({ name: 'list_docs', arguments: {} })), /welcome\.md/);
  await waitFor(() => auditRows(database, 'alice') === 1, 10_000, 'the first audit row');

  disk.fill();
  // Serving continues: every call answered while nothing can be written.
  for (let i = 0; i < CALLS_WHILE_FULL; i++) {
    assert.match(textOf(await client.callTool({ name: 'list_docs', arguments: {} })), /welcome\.md/);
  }
  // Log lines while full, more than the free tail of the log file's last page can take: sessions come and go.
  for (let i = 0; i < 20; i++) await (await connectClient(url, 'docs', alice, { name: `short-${i}` })).close();
  // Revocation works without a write: refused at once, sessions closed.
  const revoked = await harbor(home, 'token', 'revoke', 'bo');
  assert.match(revoked.stdout, /^Revoked bo; closed 1 open session\(s\)\.\n$/);
  const refused = await fetch(`${url}/mcp/docs`, { method: 'POST', headers: { Authorization: `Bearer ${bo}`, 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(refused.status, 401);
  await refused.text();
  await boClient.close().catch(() => {});
  assert.equal(readDb(database, (db) => db.prepare("SELECT revoked_at FROM teammates WHERE name = 'bo'").pluck().get()), null, 'not on disk yet');
  assert.equal(auditRows(database, 'alice'), 1, 'the calls made while full wait in memory');
  assert.equal((await status()).host.pid, hostPid, 'the host child never restarted');

  disk.free();
  const freedAt = Date.now();
  await waitFor(() => auditRows(database, 'alice') === 1 + CALLS_WHILE_FULL, 30_000, 'the audit backlog to be written');
  t.diagnostic(`audit backlog of ${CALLS_WHILE_FULL} rows written ${Date.now() - freedAt} ms after space returned`);
  await waitFor(() => readDb(database, (db) => db.prepare("SELECT revoked_at FROM teammates WHERE name = 'bo'").pluck().get()), 15_000, 'the revocation on disk');
  await waitFor(() => readDb(database, (db) => db.prepare("SELECT calls FROM teammates WHERE name = 'alice'").pluck().get() as number) >= 1 + CALLS_WHILE_FULL, 15_000, 'the use counts on disk');
  // Logging resumes: the host's lines reach host.log again, with the count of those dropped. The backlog's
  // line is logged once, inside the log's retry delay; it waits for the retry, with no later line to bring it.
  const hostLog = join(home, 'logs', 'host.log');
  await waitFor(() => /audit backlog written/.test(readFileSync(hostLog, 'utf8')), 30_000, 'host.log to take lines again');
  const dropNote = /\[(\d+) lines dropped: write failed, ENOSPC\]/.exec(readFileSync(hostLog, 'utf8'));
  assert.ok(dropNote, 'the lines dropped while full are counted in host.log');
  t.diagnostic(`host.log: ${dropNote[1]} lines dropped while full, noted when space returned`);

  const stopAt = Date.now();
  serve.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref())]);
  assert.notEqual(code, 'hung', 'serve exits on SIGTERM');
  t.diagnostic(`serve stopped ${Date.now() - stopAt} ms after SIGTERM, exit ${code}`);
  assert.equal(code, 0, 'a clean stop, not the 15 s forced exit');
  assert.equal(isAlive(hostPid), false, 'the host child is gone');
  assert.equal(readDb(database, (db) => db.pragma('integrity_check', { simple: true })), 'ok');
});
