import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import {
  descendantsIn,
  isAlive,
  killTree,
  listDescendants,
  parseProcStat,
  readProcessTable,
  treeMembersIn,
  treeRss,
  walkChildren,
  type ProcessEntry,
} from '../../server/supervision/process-tree.ts';

const fixtures = new URL('../fixtures/supervised/', import.meta.url).pathname;
const posix = process.platform !== 'win32';

describe('parseProcStat', () => {
  it('reads pid, state, ppid and pgid, even with spaces and parentheses in the command name', () => {
    const text = '4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5 1000 200 ...\n';
    assert.deepEqual(parseProcStat(text), { pid: 4242, ppid: 17, pgid: 4242, state: 'S' });
  });

  it('rejects garbage', () => {
    assert.equal(parseProcStat('nonsense'), null);
  });
});

describe('tree membership', () => {
  const table: ProcessEntry[] = [
    { pid: 1, ppid: 0, pgid: 1, state: 'S' },
    { pid: 10, ppid: 1, pgid: 10, state: 'S' }, // supervised child, group leader
    { pid: 11, ppid: 10, pgid: 10, state: 'S' }, // its child
    { pid: 12, ppid: 11, pgid: 10, state: 'R' }, // grandchild
    { pid: 13, ppid: 10, pgid: 10, state: 'Z' }, // zombie: exited, not reaped
    { pid: 20, ppid: 1, pgid: 10, state: 'S' }, // orphan that kept the group
    { pid: 30, ppid: 1, pgid: 30, state: 'S' }, // unrelated
  ];

  it('finds descendants by parent links, without zombies', () => {
    assert.deepEqual(descendantsIn(table, 10), [11, 12]);
    assert.deepEqual(descendantsIn(table, 30), []);
  });

  it('adds the root and orphaned group members when asked', () => {
    assert.deepEqual(treeMembersIn(table, 10, true).sort((a, b) => a - b), [10, 11, 12, 20]);
    assert.deepEqual(treeMembersIn(table, 10, false).sort((a, b) => a - b), [10, 11, 12]);
  });

  it('survives a parent cycle', () => {
    const cyclic: ProcessEntry[] = [
      { pid: 2, ppid: 3, pgid: 2, state: 'S' },
      { pid: 3, ppid: 2, pgid: 2, state: 'S' },
    ];
    assert.deepEqual(descendantsIn(cyclic, 2), [3]);
  });
});

describe('real process trees', { skip: !posix && 'POSIX process groups' }, () => {
  const started: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of started.splice(0)) {
      if (child.pid !== undefined && isAlive(child.pid)) await killTree(child.pid, { graceMs: 0, group: true });
    }
  });

  /** The stubborn fixture as a group leader, and the pids it reports. */
  async function startStubborn(): Promise<{ parent: number; grandchild: number }> {
    const child = spawn(process.execPath, [join(fixtures, 'stubborn.mjs')], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    started.push(child);
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    return JSON.parse(chunk.toString().split('\n')[0] as string);
  }

  it('lists descendants and sums the RSS of the tree', async () => {
    const { parent, grandchild } = await startStubborn();
    assert.deepEqual(await listDescendants(parent), [grandchild]);
    const memory = await treeRss(parent);
    assert.deepEqual(memory.pids, [parent, grandchild]);
    assert.ok(memory.rssBytes > 0);
    const alone = await treeRss(grandchild);
    assert.ok(alone.rssBytes < memory.rssBytes);
  });

  it('walks /proc children files to the same answer as a full table scan', async (t) => {
    if (process.platform !== 'linux') return t.skip('Linux only');
    const { parent, grandchild } = await startStubborn();
    assert.deepEqual(walkChildren(parent), [grandchild]);
    assert.deepEqual(descendantsIn(await readProcessTable(), parent), [grandchild]);
    assert.deepEqual(walkChildren(grandchild), []);
  });

  it('measures nothing for a pid that does not exist', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'exit');
    assert.deepEqual(await treeRss(child.pid as number), { rssBytes: 0, pids: [] });
    assert.equal(isAlive(child.pid as number), false);
  });

  it('kills a tree that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const { parent, grandchild } = await startStubborn();
    const result = await killTree(parent, { graceMs: 200, group: true });
    assert.equal(result.forced, true);
    assert.deepEqual(result.survivors, []);
    assert.deepEqual([...result.pids].sort(), [parent, grandchild].sort());
    assert.ok(result.elapsedMs >= 200);
    assert.equal(isAlive(parent), false);
    assert.equal(isAlive(grandchild), false);
  });

  it('ends a polite tree with SIGTERM alone', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    started.push(child);
    await once(child, 'spawn');
    const exited = once(child, 'exit');
    const result = await killTree(child.pid as number, { graceMs: 5_000, group: true });
    assert.equal(result.forced, false);
    assert.deepEqual(await exited, [null, 'SIGTERM']);
  });
});
