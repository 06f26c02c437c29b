import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { forEachLine } from '../../server/supervision/line-splitter.ts';
import { RotatingLog } from '../../server/supervision/rotating-log.ts';
import { waitFor } from '../helpers/harbor.ts';
import { mountSmallDisk } from '../helpers/tmpfs.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'harbor-log-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('RotatingLog', () => {
  it('keeps at most `files` files, each within maxBytes, newest lines in the current file', async () => {
    const file = join(dir, 'rot', 'upstream.log');
    const log = new RotatingLog({ file, maxBytes: 2_000, files: 3 });
    for (let i = 0; i < 500; i++) log.write(`line ${i} ${'y'.repeat(40)}`, i % 2 ? 'stderr' : 'stdout');
    await log.close();

    const names = (await readdir(join(dir, 'rot'))).sort();
    assert.deepEqual(names, ['upstream.log', 'upstream.log.1', 'upstream.log.2']);
    for (const name of names) {
      const size = (await stat(join(dir, 'rot', name))).size;
      assert.ok(size > 0 && size <= 2_000, `${name} is ${size} bytes`);
    }
    const current = await readFile(file, 'utf8');
    assert.match(current, /stderr line 499 y+\n$/);
    const older = await readFile(`${file}.2`, 'utf8');
    const firstKept = Number(/line (\d+)/.exec(older)?.[1]);
    assert.ok(firstKept > 0, 'the oldest lines were rotated away');
    // Lines are contiguous across the three files: nothing lost inside what is kept.
    const all = [older, await readFile(`${file}.1`, 'utf8'), current].join('');
    const numbers = [...all.matchAll(/line (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(numbers, Array.from({ length: 500 - firstKept }, (_, i) => firstKept + i));
  });

  it('appends to an existing file and rotates it when full', async () => {
    const file = join(dir, 'existing.log');
    await writeFile(file, 'z'.repeat(1_980) + '\n');
    const log = new RotatingLog({ file, maxBytes: 2_000, files: 2 });
    log.write('after restart');
    await log.close();
    assert.match(await readFile(file, 'utf8'), /^\S+ stdout after restart\n$/);
    assert.equal((await readFile(`${file}.1`, 'utf8')).length, 1_981);
  });

  it('clips a single huge line to the file bound', async () => {
    const file = join(dir, 'huge.log');
    const log = new RotatingLog({ file, maxBytes: 1_000, files: 2 });
    log.write('é'.repeat(5_000));
    await log.close();
    const size = (await stat(file)).size;
    assert.ok(size <= 1_000, `${size} bytes`);
    assert.doesNotMatch(await readFile(file, 'utf8'), /\uFFFD/);
  });

  it('keeps a bounded in-memory tail, oldest first', () => {
    const log = new RotatingLog({ tailLines: 5 });
    for (let i = 0; i < 12; i++) log.write(`l${i}`, 'stdout', 1_000 + i);
    assert.deepEqual(log.tail().map((l) => l.line), ['l7', 'l8', 'l9', 'l10', 'l11']);
    assert.deepEqual(log.tail(2), [
      { at: 1_010, stream: 'stdout', line: 'l10' },
      { at: 1_011, stream: 'stdout', line: 'l11' },
    ]);
    assert.deepEqual(log.tail(0), []);
    assert.deepEqual(log.paths(), []);
  });

  it('a full disk drops lines (counted) and writing resumes when space returns; flush and close finish', async (t) => {
    const disk = mountSmallDisk(1024 * 1024);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    let now = 1_000_000;
    const file = join(disk.dir, 'logs', 'host.log');
    const log = new RotatingLog({ file, maxBytes: 64 * 1024, files: 2, now: () => now });
    log.write('before the disk filled');
    await log.flush();

    disk.fill();
    log.write('x'.repeat(8_000)); // more than the last free page: ENOSPC
    await log.flush();
    assert.equal((log.error as NodeJS.ErrnoException | null)?.code, 'ENOSPC');
    for (let i = 0; i < 50; i++) log.write(`while full ${i}`); // within the retry delay: they wait
    // This used to spin forever on a settled promise (the 100 % CPU stop); it must settle.
    await log.flush();
    assert.equal(log.dropped, 1, 'only the line a write failed for');
    assert.deepEqual(log.tail(1).map((l) => l.line), ['while full 49'], 'the in-memory tail keeps working');
    now += 100; // the first retry, still full: the waiting lines go with it
    log.write('retried while full');
    await log.flush();
    assert.equal(log.dropped, 52);

    disk.free();
    now += 60_000; // past the retry delay
    log.write('space is back');
    await log.flush();
    assert.equal(log.error, null);
    assert.equal(log.dropped, 0);
    const text = await readFile(file, 'utf8');
    assert.match(text, /before the disk filled\n/);
    assert.match(text, /supervisor \[52 lines dropped: write failed, ENOSPC\]\n\S+ stdout space is back\n$/);
    await log.close();
  });

  it('retries a failing file on the first line after a growing delay, not on every line', async (t) => {
    const disk = mountSmallDisk(256 * 1024);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    let now = 0;
    const file = join(disk.dir, 'up.log');
    const log = new RotatingLog({ file, maxBytes: 64 * 1024, now: () => now });
    disk.fill();
    log.write('y'.repeat(8_000));
    await log.flush();
    assert.ok(log.error);
    log.write('within the delay');
    await log.flush();
    assert.equal(log.dropped, 1, 'it waits without touching the disk');
    now += 100; // the first delay
    log.write('retried');
    await log.flush();
    assert.equal(log.dropped, 3, 'a retry that failed again, with the line that waited for it');
    now += 150; // the delay doubled: still waiting
    log.write('within the longer delay');
    assert.equal(log.dropped, 3);
    disk.free();
    now += 100;
    log.write('recovered');
    await log.close();
    assert.match(await readFile(file, 'utf8'), /\[3 lines dropped: write failed, ENOSPC\]\n\S+ stdout within the longer delay\n\S+ stdout recovered\n$/);
  });

  it('a line that waits out the retry delay reaches the file once space is back, with no later line to bring it', async (t) => {
    const disk = mountSmallDisk(256 * 1024);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    const file = join(disk.dir, 'host.log');
    const log = new RotatingLog({ file, maxBytes: 64 * 1024 }); // the real clock: the retry timer decides
    t.after(() => log.close());
    disk.fill();
    log.write('z'.repeat(8_000));
    await log.flush();
    assert.equal((log.error as NodeJS.ErrnoException | null)?.code, 'ENOSPC');
    log.write('audit backlog written'); // the one line, logged as space returns
    disk.free();
    await waitFor(async () => /stdout audit backlog written\n$/.test(await readFile(file, 'utf8').catch(() => '')), 10_000, 'the waiting line in the file');
    assert.equal(log.error, null);
    assert.match(await readFile(file, 'utf8'), /\[1 lines dropped: write failed, ENOSPC\]\n/);
  });

  it('close makes one last attempt for lines waiting out a retry delay', async (t) => {
    const disk = mountSmallDisk(256 * 1024);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    const now = 0; // a clock that never moves: only close can bring the line
    const file = join(disk.dir, 'host.log');
    const log = new RotatingLog({ file, maxBytes: 64 * 1024, now: () => now });
    disk.fill();
    log.write('w'.repeat(8_000));
    await log.flush();
    log.write('stopping');
    disk.free();
    await log.close();
    assert.match(await readFile(file, 'utf8'), /\[1 lines dropped: write failed, ENOSPC\]\n\S+ stdout stopping\n$/);
  });

  it('names its files', () => {
    assert.deepEqual(new RotatingLog({ file: '/x/a.log' }).paths(), ['/x/a.log', '/x/a.log.1', '/x/a.log.2']);
  });
});

describe('forEachLine', () => {
  it('splits chunks into lines, handles CRLF, split UTF-8 and a last line without newline', () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    forEachLine(stream, (line) => lines.push(line));
    const euro = Buffer.from('€');
    stream.write('one\r\ntw');
    stream.write(Buffer.concat([Buffer.from('o '), euro.subarray(0, 1)]));
    stream.write(Buffer.concat([euro.subarray(1), Buffer.from('\nthree')]));
    stream.end();
    return new Promise<void>((resolve) => {
      stream.on('end', () => {
        assert.deepEqual(lines, ['one', 'two €', 'three']);
        resolve();
      });
    });
  });

  it('cuts a line longer than the maximum into pieces', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    forEachLine(stream, (line) => lines.push(line), 10);
    stream.end('a'.repeat(25) + '\n');
    await new Promise((resolve) => stream.on('end', resolve));
    assert.deepEqual(lines, ['a'.repeat(10), 'a'.repeat(10), 'a'.repeat(5)]);
  });
});
