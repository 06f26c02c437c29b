import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectClient, tempHome, textOf } from '../helpers/harbor.ts';
import { harbor, harborResult, spawnServe } from '../helpers/harbor-cli.ts';

async function harborFails(home: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  const result = await harborResult({ ...process.env, HARBOR_HOME: home }, args);
  if (result.code === 0) throw new Error(`harbor ${args.join(' ')} should have failed`);
  return result;
}

test('harbor --help documents every command', async () => {
  const { home, cleanup } = tempHome();
  try {
    const { stdout } = await harbor(home, '--help');
    for (const command of ['serve', 'token add', 'token list', 'token revoke', '--port', '--config', 'HARBOR_HOME']) {
      assert.ok(stdout.includes(command), `help lacks ${command}`);
    }
    const bad = await harborFails(home, 'frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  } finally {
    cleanup();
  }
});

test('harbor token add/list/revoke, and serve on a free port with that token', async () => {
  const { home, cleanup } = tempHome();
  const serve = spawnServe({ ...process.env, HARBOR_HOME: home, HARBOR_LOG_LEVEL: 'debug' });
  const child = serve.child;
  try {
    const { stdout } = await harbor(home, 'token', 'add', 'alice', '--json');
    const issued = JSON.parse(stdout) as { name: string; token: string };
    assert.equal(issued.name, 'alice');
    const human = await harbor(home, 'token', 'add', 'bob');
    assert.match(human.stdout, /hbr_[A-Za-z0-9_-]{43}/);
    assert.match(human.stdout, /claude mcp add --transport http/);

    const url = await serve.url;
    const client = await connectClient(url, 'docs', issued.token);
    assert.match(textOf(await client.callTool({ name: 'list_docs', arguments: {} })), /welcome\.md/);
    await client.close();

    const list = await harbor(home, 'token', 'list');
    assert.match(list.stdout, /alice .* active/);
    assert.ok(!list.stdout.includes(issued.token));
    await harbor(home, 'token', 'revoke', 'alice');
    assert.match((await harbor(home, 'token', 'list')).stdout, /alice .* revoked/);
    const res = await fetch(`${url}/mcp/docs`, { method: 'POST', headers: { Authorization: `Bearer ${issued.token}`, 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.equal((await harborFails(home, 'token', 'revoke', 'nobody')).code, 2);

    child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    const logs = serve.stderr();
    // The terminal gets human lines (JSON stays in the log files); they name the teammate, never the token.
    assert.match(logs, /^\d\d:\d\d:\d\d info  session started .*teammate=alice/m);
    assert.doesNotMatch(logs, /^\{"level"/m);
    assert.ok(!logs.includes(issued.token.slice(4)));
  } finally {
    child.kill('SIGKILL');
    cleanup();
  }
});

test('harbor serve with a config typo: exit 2, the bad field named, the file untouched', async () => {
  const { home, cleanup } = tempHome();
  try {
    const file = join(home, 'config.json');
    const text = '{ "mcpServers": { "x": { "command": "node", "argz": [] } } }';
    writeFileSync(file, text);
    const { code, stderr } = await harborFails(home, 'serve', '--port', '0');
    assert.equal(code, 2);
    assert.match(stderr, /mcpServers\.x: unknown field "argz"/);
    assert.match(stderr, /left unchanged/);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.equal((await harborFails(home, 'serve', '--port', 'abc')).code, 2);
  } finally {
    cleanup();
  }
});
