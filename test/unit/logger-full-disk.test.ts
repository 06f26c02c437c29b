import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../server/logger.ts';
import { mountSmallDisk } from '../helpers/tmpfs.ts';

import { waitFor } from '../helpers/harbor.ts';

const contents = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

test('a full disk does not end the process; logging resumes when space returns, with the drop count', async (t) => {
  // Room for what the 1 MiB buffer keeps once space returns, so the log does not fill the disk again itself.
  const disk = mountSmallDisk(4 * 1024 * 1024);
  if ('skip' in disk) return t.skip(disk.skip);
  t.after(() => disk.unmount());
  const file = join(disk.dir, 'logs', 'host.log');
  const log = createLogger({ file, name: 'harbor-test' });
  log.info('before the disk filled');
  await waitFor(() => contents(file).includes('before the disk filled'), 5_000, 'the first line');

  disk.fill();
  // 2 MiB of lines against a 1 MiB buffer: some are kept for the retry, the rest dropped.
  for (let i = 0; i < 2_000; i++) log.info({ i, pad: 'p'.repeat(1_000) }, 'while full');

  disk.free();
  // The retry rides on the next line: one written while the failing write was in flight waits for another.
  let probes = 0;
  await waitFor(() => {
    probes++;
    log.info('space is back');
    return contents(file).includes('space is back');
  }, 5_000, 'logging to resume');
  const lines = contents(file).trim().split('\n').map((l) => JSON.parse(l) as { msg: string; i?: number });
  assert.equal(lines[0]!.msg, 'before the disk filled');
  const notes = lines.filter((l) => /log lines dropped/.test(l.msg));
  const note = notes.at(-1);
  assert.ok(note, 'the drop count is logged once writing works');
  const dropped = notes.reduce((sum, n) => sum + Number(/^(\d+)/.exec(n.msg)![1]), 0);
  const kept = lines.filter((l) => l.msg === 'while full').length;
  assert.ok(dropped > 0 && kept > 0, `${kept} kept, ${dropped} dropped`);
  // The drop count may also hold 'space is back' probes written before the retry succeeded.
  const probesKept = lines.filter((l) => l.msg === 'space is back').length;
  const accounted = kept + dropped;
  assert.ok(accounted >= 1_999 && accounted <= 2_000 + (probes - probesKept), `${kept} kept + ${dropped} dropped of 2000 + ${probes - probesKept} probes not kept (a partial line may be cut)`);
  assert.equal(lines.at(-1)!.msg, 'space is back');
});

test('a log file whose folder cannot be made on a full disk is opened once space returns', async (t) => {
  const disk = mountSmallDisk(256 * 1024);
  if ('skip' in disk) return t.skip(disk.skip);
  t.after(() => disk.unmount());
  disk.fill();
  const file = join(disk.dir, 'new-folder', 'host.log');
  const log = createLogger({ file, name: 'harbor-test' });
  log.info('written once the folder exists');
  disk.free();
  await waitFor(() => contents(file).includes('written once the folder exists'), 10_000, 'the retried open');
});
