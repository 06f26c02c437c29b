import assert from 'node:assert/strict';
import { writeFileSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { editConfig } from '../../server/config/edit-config.ts';
import { watchConfig, type ConfigUpdate } from '../../server/config/config-watch.ts';
import { loadConfig } from '../../server/config/load-config.ts';
import type { Schedule } from '../../server/gateway/unref-timer.ts';
import { tempHome } from '../helpers/harbor.ts';

/** Timers run by hand: the test says when the poll and the debounce fire. */
function manualSchedule() {
  let pending: Array<{ run: () => void; ms: number }> = [];
  const schedule: Schedule = (run, ms) => {
    const timer = { run, ms };
    pending.push(timer);
    return () => {
      pending = pending.filter((t) => t !== timer);
    };
  };
  /** Runs the timers due now (those of `ms`), not the ones they schedule. */
  const fire = (ms: number) => {
    const due = pending.filter((t) => t.ms === ms);
    pending = pending.filter((t) => t.ms !== ms);
    for (const t of due) t.run();
  };
  return { schedule, fire, count: (ms: number) => pending.filter((t) => t.ms === ms).length };
}

function setup(initial: unknown, options: { fsWatch?: boolean } = {}) {
  const { home, cleanup } = tempHome();
  const file = join(home, 'config.json');
  writeFileSync(file, JSON.stringify(initial));
  const updates: ConfigUpdate[] = [];
  const timers = manualSchedule();
  const watch = watchConfig({
    file,
    load: () => loadConfig(file, { docsFolder: join(home, 'docs') }).config,
    onUpdate: (update) => updates.push(update),
    debounceMs: 50,
    pollMs: 1000,
    fsWatch: options.fsWatch ?? false,
    schedule: timers.schedule,
  });
  return { file, updates, timers, close: () => (watch.close(), cleanup()) };
}

const memory = { mcpServers: { memory: { command: 'npx', args: ['memory'] } } };

test('poll: an edit in place is read once the quiet time has passed, with the loader\'s defaults', (t) => {
  const w = setup(memory);
  t.after(w.close);
  writeFileSync(w.file, JSON.stringify({ mcpServers: { ...memory.mcpServers, git: { command: 'uvx' } } }) + '\n');
  w.timers.fire(1000);
  assert.equal(w.updates.length, 0, 'debounced, not read at once');
  w.timers.fire(50);
  assert.equal(w.updates.length, 1);
  assert.deepEqual(Object.keys(w.updates[0]!.config!.mcpServers).sort(), ['git', 'memory']);
  assert.equal(w.updates[0]!.config!.mcpServers.git!.mode, 'shared');
  assert.ok(w.updates[0]!.config!.docs, 'the built-in docs server is kept');
  assert.equal(w.timers.count(1000), 1, 'the poll goes on');
});

test('a typo is handed back with its field path; the next good version is read', (t) => {
  const w = setup(memory);
  t.after(w.close);
  writeFileSync(w.file, JSON.stringify({ mcpServers: { memory: { comand: 'npx' } } }));
  w.timers.fire(1000);
  w.timers.fire(50);
  assert.equal(w.updates.length, 1);
  assert.equal(w.updates[0]!.config, undefined);
  assert.match(w.updates[0]!.error!.problems.join('\n'), /mcpServers\.memory: unknown field "comand"/);
  writeFileSync(w.file, '{ "mcpServers": { "memory": ');
  w.timers.fire(1000);
  w.timers.fire(50);
  assert.match(w.updates[1]!.error!.problems[0]!, /not valid JSON/);
  writeFileSync(w.file, JSON.stringify(memory));
  w.timers.fire(1000);
  w.timers.fire(50);
  assert.deepEqual(Object.keys(w.updates[2]!.config!.mcpServers), ['memory']);
});

test('a touch, or the same text written again, calls back nothing', (t) => {
  const w = setup(memory);
  t.after(w.close);
  const later = new Date(Date.now() + 5000);
  utimesSync(w.file, later, later);
  w.timers.fire(1000);
  w.timers.fire(50);
  writeFileSync(w.file, JSON.stringify(memory));
  w.timers.fire(1000);
  w.timers.fire(50);
  assert.equal(w.updates.length, 0);
});

test('a deleted file is refused: the running config stays', (t) => {
  const w = setup(memory);
  t.after(w.close);
  unlinkSync(w.file);
  w.timers.fire(1000);
  w.timers.fire(50);
  assert.match(w.updates[0]!.error!.problems[0]!, /gone: keeping the running config/);
});

test('fs.watch: a save by rename (editConfig) is seen without the poll', async (t) => {
  const w = setup(memory, { fsWatch: true });
  t.after(w.close);
  editConfig(w.file, (json) => {
    (json.mcpServers as Record<string, unknown>).fetch = { command: 'uvx', args: ['fetch'] };
  });
  // The folder's event arrives on the event loop; wait for it (bounded), never for the poll.
  for (let i = 0; i < 200 && w.timers.count(50) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(w.timers.count(50), 1, 'the rename scheduled a read');
  w.timers.fire(50);
  assert.deepEqual(Object.keys(w.updates[0]!.config!.mcpServers).sort(), ['fetch', 'memory']);
});

test('close: no more reads, timers cancelled', (t) => {
  const w = setup(memory);
  t.after(() => {});
  w.close();
  assert.equal(w.timers.count(1000), 0);
  assert.equal(w.updates.length, 0);
});
