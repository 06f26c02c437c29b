import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { connectClient, FIXTURE_SERVER, GENEROUS_LIMITS, startTestHost, waitFor } from '../helpers/harbor.ts';
import { harbor } from '../helpers/harbor-cli.ts';
import { adminFetch } from '../helpers/oauth-browser.ts';

/**
 * The fixture server, writing `lines` lines of about 100 bytes to stderr, each naming its pid: at once,
 * or once the file `gate` exists (so several processes write at the same time).
 */
function chattyServer(lines: number, extra: object = {}, gate?: string) {
  const chat = `for (let i = 0; i < ${lines}; i++) process.stderr.write('chatty ' + process.pid + ' ' + i + ' ' + 'x'.repeat(80) + '\\n');`;
  const script = gate
    ? `const { existsSync } = await import('node:fs');
const wait = setInterval(() => { if (existsSync(${JSON.stringify(gate)})) { clearInterval(wait); ${chat} } }, 20);
await import(${JSON.stringify(pathToFileURL(FIXTURE_SERVER).href)});`
    : `${chat}
await import(${JSON.stringify(pathToFileURL(FIXTURE_SERVER).href)});`;
  return { command: process.execPath, args: ['--input-type=module', '-e', script], ...extra };
}

test('a server named "host" writes a file of its own (host@0.log), and GET /admin/logs tells the two apart: process=host is the host, server=host the server', async () => {
  const h = await startTestHost({ mcpServers: { host: chattyServer(3) }, limits: GENEROUS_LIMITS });
  const admin = (path: string) => adminFetch(h.url, h.host.adminSecret, 'GET', path);
  const logs = join(h.home, 'logs');
  try {
    // The host's own log, as the supervisor above it writes it.
    writeFileSync(join(logs, 'host.log'), `${JSON.stringify({ at: Date.now(), stream: 'stdout', line: 'the host itself' })}\n`, { flag: 'a' });
    await waitFor(() => existsSync(join(logs, 'host@0.log')) && readFileSync(join(logs, 'host@0.log'), 'utf8').includes('chatty'), 20_000, "the server's lines in host@0.log");
    assert.doesNotMatch(readFileSync(join(logs, 'host.log'), 'utf8'), /chatty/, "the host's file holds none of the server's lines");
    const hostLines = (await (await admin('/admin/logs?process=host')).json()) as { lines: Array<{ line: string }> };
    assert.ok(hostLines.lines.some((l) => l.line.includes('the host itself')));
    assert.ok(!hostLines.lines.some((l) => l.line.includes('chatty')));
    const server = await admin('/admin/logs?server=host');
    assert.equal(server.status, 200);
    const serverLines = (await server.json()) as { process: string; lines: Array<{ line: string }> };
    assert.equal(serverLines.process, 'host');
    assert.equal(serverLines.lines.filter((l) => l.line.startsWith('chatty')).length, 3);
    assert.equal((await admin('/admin/logs?process=host&server=host')).status, 400);
    assert.equal((await admin('/admin/logs?server=nosuch')).status, 404);
    // The CLI: `harbor logs host` the host, `--server` the server.
    assert.doesNotMatch((await harbor(h.home, 'logs', 'host')).stdout, /chatty/);
    assert.equal((await harbor(h.home, 'logs', 'host', '--server')).stdout.match(/chatty \d+/g)?.length, 3);
  } finally {
    await h.close();
  }
});

test("an isolated server's session processes write one log through one writer: it rotates at its size, no line lost", async () => {
  const perProcess = 6_000; // ~0.85 MB each in the file: under the 1 MiB rotation alone, over it together
  const gate = join(tmpdir(), `harbor-chatty-${process.pid}-${Date.now()}`);
  const h = await startTestHost({ mcpServers: { iso: chattyServer(perProcess, { mode: 'isolated' }, gate) }, limits: GENEROUS_LIMITS });
  const logs = join(h.home, 'logs');
  const clients = [await connectClient(h.url, 'iso', h.token), await connectClient(h.url, 'iso', h.token)];
  writeFileSync(gate, ''); // both processes run: they write at the same time
  const files = () => readdirSync(logs).filter((f) => f.startsWith('iso'));
  const counts = () => {
    const perPid = new Map<string, number>();
    for (const file of files()) {
      for (const line of readFileSync(join(logs, file), 'utf8').split('\n')) {
        const pid = /chatty (\d+) \d+ x/.exec(line)?.[1];
        if (pid) perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
      }
    }
    return perPid;
  };
  try {
    const seen = await waitFor(() => {
      const perPid = counts();
      return perPid.size === 2 && [...perPid.values()].every((n) => n === perProcess) ? perPid : null;
    }, 30_000, "both processes' lines in the log");
    assert.equal(seen.size, 2);
    assert.deepEqual(files().filter((f) => !/^iso\.log(\.\d+)?$/.test(f)), [], 'one log (and its rotations), no file per session');
    // One writer counts both processes' bytes: the current file was rotated at 1 MiB (two writers each saw
    // under 1 MiB of their own and never rotated, so the file held both: ~1.7 MB).
    assert.ok(files().includes('iso.log.1'), `rotated: ${files().join(', ')}`);
    assert.ok(statSync(join(logs, 'iso.log')).size <= 1024 * 1024 + 1024, `iso.log is ${statSync(join(logs, 'iso.log')).size} bytes`);
  } finally {
    rmSync(gate, { force: true });
    for (const client of clients) await client.close();
    await h.close();
  }
});
