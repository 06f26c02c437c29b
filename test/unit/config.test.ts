import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config/load-config.ts';
import { tempHome } from '../helpers/harbor.ts';

test('no config file: the built-in docs server over the default folder', () => {
  const { home, cleanup } = tempHome();
  try {
    const { config, file } = loadConfig(join(home, 'config.json'), { docsFolder: join(home, 'docs') });
    assert.equal(file, null);
    assert.equal(config.docs?.folder, join(home, 'docs'));
    assert.equal(config.port, 7837);
    assert.deepEqual(config.mcpServers, {});
  } finally {
    cleanup();
  }
});

test('a Claude Desktop entry pastes in unchanged and gets Harbor defaults', () => {
  const { home, cleanup } = tempHome();
  try {
    const file = join(home, 'config.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 'x' } } } }));
    const { config } = loadConfig(file, { docsFolder: '/unused' });
    const github = config.mcpServers.github!;
    assert.equal(github.mode, 'shared');
    assert.equal(github.memoryLimitMb, 512);
    assert.deepEqual(github.restart, { maxCrashes: 10, windowSeconds: 60 });
    // An mcpServers-only file keeps the built-in docs server over the default folder.
    assert.equal(config.docs?.folder, '/unused');
  } finally {
    cleanup();
  }
});

test('only "docs": false turns the built-in docs server off; a server of the user\'s own named docs takes the name', () => {
  const { home, cleanup } = tempHome();
  try {
    const file = join(home, 'config.json');
    writeFileSync(file, JSON.stringify({ docs: false, mcpServers: { github: { command: 'npx' } } }));
    assert.equal(loadConfig(file, { docsFolder: '/unused' }).config.docs, undefined);
    writeFileSync(file, JSON.stringify({ mcpServers: { docs: { command: 'my-docs' } } }));
    const { config } = loadConfig(file, { docsFolder: '/unused' });
    assert.equal(config.docs, undefined);
    assert.equal(config.mcpServers.docs?.command, 'my-docs');
    writeFileSync(file, JSON.stringify({ docs: true }));
    assert.throws(() => loadConfig(file, { docsFolder: '/unused' }), ConfigError);
  } finally {
    cleanup();
  }
});

test('a typo names the bad field and leaves the file untouched', () => {
  const { home, cleanup } = tempHome();
  try {
    const file = join(home, 'config.json');
    const text = JSON.stringify({ mcpServers: { github: { comand: 'npx', args: ['x'] } }, prot: 1 }, null, 2);
    writeFileSync(file, text);
    assert.throws(
      () => loadConfig(file, { docsFolder: '/unused' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const all = error.problems.join('\n');
        assert.match(all, /mcpServers\.github: unknown field "comand"/);
        assert.match(all, /mcpServers\.github\.command/);
        assert.match(all, /unknown field "prot"/);
        return true;
      },
    );
    assert.equal(readFileSync(file, 'utf8'), text);
  } finally {
    cleanup();
  }
});

test('wrong types and broken JSON are reported with their place', () => {
  const { home, cleanup } = tempHome();
  try {
    const file = join(home, 'config.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { a: { command: 'x', args: ['ok', 3], mode: 'sharded' } }, port: 'eighty' }));
    assert.throws(() => loadConfig(file, { docsFolder: '/unused' }), (e: ConfigError) => {
      const all = e.problems.join('\n');
      assert.match(all, /mcpServers\.a\.args\[1\]/);
      assert.match(all, /mcpServers\.a\.mode/);
      assert.match(all, /port/);
      return true;
    });
    writeFileSync(file, '{ "mcpServers": ');
    assert.throws(() => loadConfig(file, { docsFolder: '/unused' }), /not valid JSON/);
  } finally {
    cleanup();
  }
});
