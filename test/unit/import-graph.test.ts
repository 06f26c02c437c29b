/**
 * The layering, held by a test over the real import graph (scripts/import-graph.ts): no import cycle
 * between files, none between server/'s folders, server/ below main/ and renderer/, Electron only in
 * main/shell/, and the renderer (served as files from renderer/ only) loading nothing from outside it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cycles, importGraph, serverFolderCycles } from '../../scripts/import-graph.ts';

const edges = importGraph(['server', 'main', 'renderer', 'scripts']);
const local = edges.filter((e) => e.local);
const show = (list: Array<{ from: string; to: string }>): string => list.map((e) => `${e.from} -> ${e.to}`).join('\n');

test('the graph is read: known imports are there, static, dynamic and type-only', () => {
  assert.ok(local.some((e) => e.from === 'server/host/http-part.ts' && e.to === 'server/http/host-server.ts'));
  assert.ok(local.some((e) => e.from === 'main/cli.ts' && e.to.startsWith('main/commands/')), 'dynamic imports of the commands');
  assert.ok(edges.some((e) => e.from.startsWith('main/shell/') && e.to === 'electron'));
  assert.ok(local.some((e) => e.typeOnly));
  assert.ok(local.length > 200, `only ${local.length} local imports found`);
});

test('cycles() finds a loop and a self-import, and nothing in a tree', () => {
  assert.deepEqual(cycles([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'd' }]), [['a', 'b', 'c']]);
  assert.deepEqual(cycles([{ from: 'a', to: 'a' }]), [['a']]);
  assert.deepEqual(cycles([{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'c' }]), []);
});

test('no import cycle between files', () => {
  assert.deepEqual(cycles(local), []);
});

test("no import cycle between server/'s folders (the top-level server/*.ts aside)", () => {
  assert.deepEqual(serverFolderCycles(local), []);
  assert.deepEqual(serverFolderCycles([{ from: 'server/http/a.ts', to: 'server/admin/b.ts' }, { from: 'server/admin/b.ts', to: 'server/http/c.ts' }]), [['server/admin', 'server/http']]);
});

test('server/ never imports main/ or renderer/', () => {
  const upward = local.filter((e) => e.from.startsWith('server/') && /^(main|renderer)\//.test(e.to));
  assert.equal(upward.length, 0, show(upward));
});

test('only main/shell/ imports Electron', () => {
  const electron = edges.filter((e) => !e.local && /^electron(-log)?($|\/)/.test(e.to) && !e.from.startsWith('main/shell/'));
  assert.equal(electron.length, 0, show(electron));
});

test('the renderer loads nothing from outside renderer/ at run time (types only)', () => {
  const outside = edges.filter((e) => e.from.startsWith('renderer/') && !e.typeOnly && !(e.local && e.to.startsWith('renderer/')));
  assert.equal(outside.length, 0, show(outside));
});
