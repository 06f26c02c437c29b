import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMAND_HELP } from '../../main/commands/command-help.ts';
import { connectClient, fixtureServer, tempHome, waitFor } from '../helpers/harbor.ts';
import { harborResult, spawnServe, type ServeProcess } from '../helpers/harbor-cli.ts';

/**
 * The first hour of a new user, README in hand (issue 15): a fresh HARBOR_HOME, a real `harbor serve`,
 * a config that lists only mcpServers, a second serve started by mistake, `status`, `share` on a
 * machine without cloudflared, and --help on every command.
 */
describe('a newcomer', () => {
  const { home, cleanup } = tempHome();
  // No cloudflared anywhere: not on PATH (only node's folder), not named by HARBOR_CLOUDFLARED.
  const env: NodeJS.ProcessEnv = { ...process.env, HARBOR_HOME: home, PATH: join(process.execPath, '..') };
  delete env.HARBOR_CLOUDFLARED;
  let served: ServeProcess;
  let serve: ChildProcess;
  let url = '';

  const harbor = (...args: string[]) => harborResult(env, args, 60_000);

  before(async () => {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ mcpServers: { fx: fixtureServer() } }));
    served = spawnServe(env);
    serve = served.child;
    url = await served.url;
  });

  after(async () => {
    if (serve.exitCode === null) {
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
    }
    cleanup();
  });

  it('keeps the docs server with an mcpServers-only config', async () => {
    assert.match(served.stdout(), /\/docs\/mcp/);
    assert.match(served.stdout(), /\/fx\/mcp/);
    const added = await harbor('token', 'add', 'alice', '--json');
    assert.equal(added.code, 0, added.stderr);
    const { token } = JSON.parse(added.stdout) as { token: string };
    const client = await connectClient(url, 'docs', token);
    try {
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'search_docs'));
    } finally {
      await client.close();
    }
    // A name nothing serves: a 404 that says what is served (not -32603, a host fault).
    const res = await fetch(`${url}/mcp/memory`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.message, 'No server named "memory"; served: docs, fx');
    assert.notEqual(body.error.code, -32603);
  });

  it('refuses a second serve, touching nothing of the running one; status still works and prints the dashboard', async () => {
    const files = ['admin.secret', 'controller.json', 'host.json', 'harbor.lock'];
    const before = files.map((f) => readFileSync(join(home, f), 'utf8'));
    const second = await harbor('serve', '--port', '0');
    assert.equal(second.code, 1);
    assert.equal(second.stdout, '');
    assert.match(second.stderr, new RegExp(`^Harbor is already running in ${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${serve.pid}, ${url}\\)`));
    assert.deepEqual(files.map((f) => readFileSync(join(home, f), 'utf8')), before);

    const status = await harbor('status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`docs +${url}/docs/mcp`));
    assert.match(status.stdout, new RegExp(`fx +${url}/fx/mcp`));
    const dashboard = /Dashboard \(this machine only\): (http:\/\/127\.0\.0\.1:\d+\/app\/#secret=\S+)/.exec(status.stdout)?.[1];
    assert.ok(dashboard, status.stdout);
    assert.equal((await fetch(dashboard)).status, 200);
    // The dashboard's modules are TypeScript stripped on the fly: that prints no warning (checked below).
    assert.equal((await fetch(`${url}/app/main.ts`)).status, 200);
    // Where no browser opener works (none on this PATH), `harbor dashboard` prints the same link.
    const opened = await harbor('dashboard');
    assert.equal(opened.code, 0, opened.stderr);
    assert.ok(opened.stdout.includes(dashboard), opened.stdout);
  });

  it('share without cloudflared exits 1 with one line, and sharing stays off (health green)', async () => {
    const shared = await harbor('share');
    assert.equal(shared.code, 1);
    const lines = shared.stderr.split('\n').filter((l) => l && !l.startsWith('Starting a'));
    assert.equal(lines.length, 1, shared.stderr);
    assert.match(lines[0]!, /^harbor: sharing is off: cloudflared not found: .*HARBOR_CLOUDFLARED=\/path\/to\/cloudflared \(harbor share --verbose lists the \d+ places looked at\)$/);

    const verbose = await harbor('share', '--verbose');
    const places = verbose.stderr.split('\n').filter((l) => l.startsWith('  looked at '));
    assert.ok(places.length > 1);
    assert.equal(new Set(places).size, places.length, 'each place once');

    const status = await harbor('status', '--json');
    const answer = JSON.parse(status.stdout) as { share: { state: string }; health: { state: string; reasons: string[] } };
    assert.equal(answer.share.state, 'off');
    assert.equal(answer.health.state, 'green', answer.health.reasons.join('; '));
    assert.ok(!existsSync(join(home, 'share.json')), 'a failed share is not resumed on the next start');
    const text = await harbor('status');
    assert.equal(text.stdout.match(/cloudflared not found/g)?.length, 1, 'the reason once');
  });

  it('picks up config.json edits live: a server added answers, a typo is refused and logged with its field path', async () => {
    const added = await harbor('token', 'add', 'bob', '--json');
    const { token } = JSON.parse(added.stdout) as { token: string };
    const docs = await connectClient(url, 'docs', token);
    const config = join(home, 'config.json');
    const mcpServers = { fx: fixtureServer(), memory: fixtureServer() };
    writeFileSync(config, JSON.stringify({ mcpServers }));
    const memory = await waitFor(() => connectClient(url, 'memory', token).catch(() => null), 30_000, 'the added server to answer');
    assert.ok((await memory.listTools()).tools.some((t) => t.name === 'echo'));
    writeFileSync(config, JSON.stringify({ mcpServers: { ...mcpServers, memory: { ...mcpServers.memory, comand: 'x' } } }));
    await waitFor(() => /config\.json edit refused.*mcpServers\.memory: unknown field/.test(served.stderr()), 30_000, 'the refusal on the terminal');
    assert.ok((await memory.listTools()).tools.length > 0, 'the old config still served');
    assert.ok((await docs.listTools()).tools.some((t) => t.name === 'search_docs'), 'the docs session survived');
    writeFileSync(config, JSON.stringify({ mcpServers: { fx: fixtureServer() } }));
    await memory.close();
    await docs.close();
  });

  it('answers --help on every command', async () => {
    for (const command of Object.keys(COMMAND_HELP)) {
      const result = await harbor(command, '--help');
      assert.equal(result.code, 0, `${command} --help: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: harbor ${command}`), command);
    }
    const tokenAdd = await harbor('token', 'add', '--help');
    assert.equal(tokenAdd.code, 0);
    assert.match(tokenAdd.stdout, /--expires-days/);
    assert.deepEqual(Object.keys(COMMAND_HELP).sort(), ['activity', 'dashboard', 'export', 'logs', 'restart', 'serve', 'share', 'status', 'token', 'unshare']);
  });

  it('prints human lines on the terminal and keeps JSON in the log files; stopping frees the home', async () => {
    assert.doesNotMatch(served.stderr(), /^\{"level"/m);
    assert.doesNotMatch(served.stderr(), /ExperimentalWarning/);
    assert.match(served.stderr(), /^\d\d:\d\d:\d\d host  starting → online/m);
    assert.match(readFileSync(join(home, 'logs', 'harbor.log'), 'utf8'), /^\{"level":30/m);
    const exited = new Promise<number | null>((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(!existsSync(join(home, 'harbor.lock')));
  });
});
