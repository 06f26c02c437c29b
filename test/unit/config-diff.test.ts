import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig, isEmptyDiff } from '../../server/config/config-diff.ts';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';

const parse = (json: Record<string, unknown>) => HarborConfigSchema.parse(json);
const base = { docs: { folder: '/docs' }, mcpServers: { memory: { command: 'npx', args: ['memory'] }, fetch: { command: 'uvx', args: ['fetch'] } } };

test('the same file, or one spelling out a default: nothing to do', () => {
  assert.ok(isEmptyDiff(diffConfig(parse(base), parse(base))));
  const spelled = { ...base, mcpServers: { ...base.mcpServers, memory: { command: 'npx', args: ['memory'], mode: 'shared', env: {} } } };
  assert.ok(isEmptyDiff(diffConfig(parse(base), parse(spelled))));
});

test('added, changed and removed entries, each named once; the untouched one is left out', () => {
  const next = { docs: base.docs, mcpServers: { memory: { command: 'npx', args: ['memory', '--v2'] }, git: { command: 'uvx', args: ['git'] } } };
  const diff = diffConfig(parse(base), parse(next));
  assert.deepEqual(diff.added.map(([name]) => name), ['git']);
  assert.deepEqual(diff.changed.map(([name, entry]) => [name, entry.args]), [['memory', ['memory', '--v2']]]);
  assert.deepEqual(diff.removed, ['fetch']);
  assert.equal(diff.docs, undefined);
  assert.deepEqual(diff.needsRestart, []);
});

test('a change deep inside an entry (one env value) is a change', () => {
  const next = { ...base, mcpServers: { ...base.mcpServers, fetch: { command: 'uvx', args: ['fetch'], env: { KEY: 'b' } } } };
  const diff = diffConfig(parse(base), parse(next));
  assert.deepEqual(diff.changed.map(([name]) => name), ['fetch']);
  assert.deepEqual(diff.changed[0]![1].env, { KEY: 'b' });
});

test('disabled: true is a removal, and turning it back on an addition', () => {
  const off = { ...base, mcpServers: { ...base.mcpServers, fetch: { command: 'uvx', args: ['fetch'], disabled: true } } };
  assert.deepEqual(diffConfig(parse(base), parse(off)).removed, ['fetch']);
  assert.deepEqual(diffConfig(parse(off), parse(base)).added.map(([name]) => name), ['fetch']);
});

test('settings read only at start are reported as needing a restart, not applied', () => {
  const next = { ...base, port: 9000, store: { url: 'postgres://db/harbor' }, limits: { burst: 5 } };
  const diff = diffConfig(parse(base), parse(next));
  assert.deepEqual(diff.needsRestart.sort(), ['limits', 'port', 'store']);
  assert.deepEqual([diff.added, diff.changed, diff.removed], [[], [], []]);
});

test('the docs server: a new folder or "docs": false is reported with its new settings', () => {
  const moved = diffConfig(parse(base), parse({ ...base, docs: { folder: '/elsewhere' } }));
  assert.equal(moved.docs?.next?.folder, '/elsewhere');
  const off = diffConfig(parse(base), parse({ ...base, docs: false }));
  assert.ok(off.docs);
  assert.equal(off.docs.next, undefined);
  assert.deepEqual(off.needsRestart, []);
});
