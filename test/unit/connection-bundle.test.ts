import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import {
  buildConnectionBundle,
  clientNameFor,
  mergedSnippets,
  renderConnectionText,
  shellQuote,
  tomlString,
  type ConnectionBundle,
  type ClientId,
  type Snippet,
} from '../../server/access/connection-bundle.ts';

const noBash = process.platform === 'win32';

/** Lets a real bash split the command line: `claude` is a function that prints its argv NUL-separated. */
function bashArgv(commandLine: string): string[] {
  const out = execFileSync('bash', ['-c', `claude() { printf '%s\\0' "$@"; }\n${commandLine}`], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return out.split('\0').slice(0, -1);
}

function snippet(bundle: ConnectionBundle, client: ClientId): Snippet {
  const found = bundle.snippets.find((s) => s.client === client);
  assert.ok(found, `no ${client} snippet`);
  return found;
}

type Json = Record<string, any>;

const token = () => 'hbr_' + randomBytes(32).toString('base64url');

const NAMES = ['docs', 'Team Docs', `it's "odd" $HOME/x\\y ü`, 'ドキュメント', '--evil', 'a.b:c'];
const BASES = [
  'https://x.trycloudflare.com',
  'http://127.0.0.1:7837/',
  'https://harbor.example/prefix/',
  'http://192.168.1.5:7837',
];

test('every snippet names the same URL and token, for odd names and bases', { skip: noBash }, () => {
  for (const serverName of NAMES) {
    for (const baseUrl of BASES) {
      const tok = token();
      const bundle = buildConnectionBundle({ serverName, baseUrl, token: tok, teammate: 'Ana "the admin"' });
      const name = bundle.clientName;
      const bearer = `Bearer ${tok}`;
      assert.match(name, /^[A-Za-z0-9_-]{1,64}$/);
      assert.deepEqual(
        bundle.snippets.map((s) => s.client),
        ['claude-code', 'cursor', 'vscode', 'claude-desktop', 'windsurf', 'codex', 'connector'],
      );

      const url = new URL(bundle.url);
      const expectedPrefix = new URL(baseUrl).pathname.replace(/\/+$/, '');
      assert.equal(url.origin, new URL(baseUrl).origin);
      assert.equal(url.pathname, `${expectedPrefix}/${encodeURIComponent(serverName)}/mcp`);
      assert.equal(decodeURIComponent(url.pathname.split('/').at(-2)!), serverName);

      const connector = new URL(bundle.connectorUrl);
      const parts = connector.pathname.slice(expectedPrefix.length).split('/').map(decodeURIComponent);
      assert.deepEqual(parts, ['', 't', tok, serverName, 'mcp']);
      assert.equal(snippet(bundle, 'connector').text, bundle.connectorUrl);

      assert.deepEqual(bashArgv(snippet(bundle, 'claude-code').text), [
        'mcp', 'add', '--transport', 'http', name, bundle.url, '--header', `Authorization: ${bearer}`,
      ]);

      const cursor = JSON.parse(snippet(bundle, 'cursor').text) as Json;
      assert.deepEqual(cursor, { mcpServers: { [name]: { url: bundle.url, headers: { Authorization: bearer } } } });

      const windsurf = JSON.parse(snippet(bundle, 'windsurf').text) as Json;
      assert.deepEqual(windsurf, {
        mcpServers: { [name]: { serverUrl: bundle.url, headers: { Authorization: bearer } } },
      });

      const vscodeSnippet = snippet(bundle, 'vscode');
      const vscode = JSON.parse(vscodeSnippet.text) as Json;
      assert.deepEqual(vscode.servers, {
        [name]: { type: 'http', url: bundle.url, headers: { Authorization: 'Bearer ${input:harbor-token}' } },
      });
      assert.equal(vscode.inputs.length, 1);
      assert.equal(vscode.inputs[0].type, 'promptString');
      assert.equal(vscode.inputs[0].id, 'harbor-token');
      assert.equal(vscode.inputs[0].password, true);
      assert.ok(vscode.inputs[0].description.includes('Ana "the admin"'));
      assert.ok(vscodeSnippet.note?.includes(tok), 'the VS Code snippet tells which token to paste');
      assert.ok(!vscodeSnippet.text.includes(tok), 'the VS Code file does not hold the token');

      const desktop = (JSON.parse(snippet(bundle, 'claude-desktop').text) as Json).mcpServers[name];
      assert.equal(desktop.command, 'npx');
      const lanHttp = baseUrl.startsWith('http://192.');
      assert.deepEqual(desktop.args, [
        'mcp-remote', bundle.url, '--header', 'Authorization:${AUTH_HEADER}', ...(lanHttp ? ['--allow-http'] : []),
      ]);
      for (const arg of desktop.args as string[]) assert.ok(!arg.includes(' '), `no spaces in args: ${arg}`);
      assert.deepEqual(desktop.env, { AUTH_HEADER: bearer });

      const codexSnippet = snippet(bundle, 'codex');
      const codex = JSON.parse(JSON.stringify(parseToml(codexSnippet.text))) as Json;
      assert.deepEqual(codex, { mcp_servers: { [name]: { url: bundle.url, bearer_token_env_var: 'HARBOR_TOKEN' } } });
      const exportLine = codexSnippet.note?.split('\n').find((line) => line.startsWith('export '));
      assert.ok(exportLine, 'codex snippet carries the export line');
      const exported = execFileSync('bash', ['-c', `${exportLine}\nprintf %s "$HARBOR_TOKEN"`], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(exported, tok);
    }
  }
});

test('JSON snippets are written with JSON.stringify, so odd tokens survive', { skip: noBash }, () => {
  const tok = `we"ird\\to'ken $x \n`;
  const bundle = buildConnectionBundle({ serverName: 'docs', baseUrl: 'https://h.example', token: tok, teammate: 't' });
  for (const s of bundle.snippets.filter((x) => x.language === 'json')) assert.doesNotThrow(() => JSON.parse(s.text));
  assert.equal((JSON.parse(snippet(bundle, 'cursor').text) as Json).mcpServers.docs.headers.Authorization, `Bearer ${tok}`);
  assert.deepEqual(bashArgv(snippet(bundle, 'claude-code').text).at(-1), `Authorization: Bearer ${tok}`);
  const parts = new URL(bundle.connectorUrl).pathname.split('/').map(decodeURIComponent);
  assert.equal(parts[2], tok);
});

test('an explicit clientName is used as given', () => {
  const bundle = buildConnectionBundle({
    serverName: 'Team Docs',
    clientName: 'team_docs',
    baseUrl: 'https://h.example',
    token: 'hbr_x',
    teammate: 't',
  });
  assert.equal(bundle.clientName, 'team_docs');
  assert.ok(bundle.url.endsWith('/Team%20Docs/mcp'));
  assert.ok(snippet(bundle, 'claude-code').text.includes(' team_docs '));
});

test('client names are slugs that Claude Code and Codex accept', () => {
  assert.equal(clientNameFor('docs'), 'docs');
  assert.equal(clientNameFor('Team Docs'), 'Team-Docs');
  assert.equal(clientNameFor('Crème Brûlée'), 'Creme-Brulee');
  assert.equal(clientNameFor('--evil'), 'evil');
  assert.equal(clientNameFor('ドキュメント'), 'harbor');
  assert.equal(clientNameFor('x'.repeat(100)).length, 48);
});

test('tomlString round-trips through a TOML parser', () => {
  const values = ['plain', 'quote " and \\ backslash', 'tab\tnewline\nreturn\r', '\x00\x01\x1f\x7f', 'ü 🚀 \u2028', 'lone \ud800 surrogate'];
  for (const value of values) {
    const parsed = parseToml(`k = ${tomlString(value)}`) as { k: string };
    assert.equal(parsed.k, value.replace('\ud800', '\ufffd'));
  }
});

test('shellQuote round-trips through bash', { skip: noBash }, () => {
  const words = ['plain', 'with space', `single ' quote`, 'double " quote', '$HOME `id` \\ !', 'new\nline', '%PATH%', ''];
  for (const word of words) assert.deepEqual(bashArgv(`claude ${shellQuote(word)}`), [word]);
});

test('the base URL must be a plain http(s) URL', () => {
  const base = { serverName: 'docs', token: 't', teammate: 't' };
  assert.throws(() => buildConnectionBundle({ ...base, baseUrl: 'not a url' }), TypeError);
  assert.throws(() => buildConnectionBundle({ ...base, baseUrl: 'ftp://h.example' }), TypeError);
  assert.throws(() => buildConnectionBundle({ ...base, baseUrl: 'https://u:p@h.example' }), TypeError);
  assert.throws(() => buildConnectionBundle({ ...base, baseUrl: 'https://h.example/?a=1' }), TypeError);
});

test('renderConnectionText shows each server once and each client once, merged over the servers', () => {
  const bundles = ['docs', 'fx'].map((serverName) => buildConnectionBundle({ serverName, baseUrl: 'https://h.example', token: 'hbr_abc', teammate: 'ana' }));
  const text = renderConnectionText(bundles);
  for (const bundle of bundles) {
    assert.ok(text.includes(`URL: ${bundle.url}`));
    assert.ok(text.includes(bundle.connectorUrl));
    for (const link of bundle.installLinks) assert.ok(text.includes(`${link.title}: ${link.url}`));
  }
  for (const s of mergedSnippets(bundles)) {
    assert.equal(text.split(`== ${s.title}`).length, 2, `${s.title} once`);
    if (s.file) assert.ok(text.includes(s.file));
    for (const line of s.text.split('\n').filter(Boolean)) assert.ok(text.includes(`  ${line}`), line);
  }
  assert.equal(text.split('export HARBOR_TOKEN=hbr_abc').length, 2, 'the Codex note once');
});

test('one merged mcpServers block for Claude Desktop (and every JSON client), one line per server for Claude Code', () => {
  const tok = token();
  const bundles = ['docs', 'Team Docs', 'fx'].map((serverName) => buildConnectionBundle({ serverName, baseUrl: 'http://192.168.1.5:7837', token: tok, teammate: 'ana' }));
  const merged = mergedSnippets(bundles);
  assert.deepEqual(merged.map((s) => s.client), ['claude-code', 'cursor', 'vscode', 'claude-desktop', 'windsurf', 'codex']);
  const desktop = JSON.parse(merged.find((s) => s.client === 'claude-desktop')!.text) as Json;
  assert.deepEqual(Object.keys(desktop), ['mcpServers']);
  assert.deepEqual(Object.keys(desktop.mcpServers), ['docs', 'Team-Docs', 'fx']);
  for (const bundle of bundles) {
    // Each entry is exactly the one its own bundle gives.
    assert.deepEqual(desktop.mcpServers[bundle.clientName], JSON.parse(snippet(bundle, 'claude-desktop').text).mcpServers[bundle.clientName]);
    assert.ok(desktop.mcpServers[bundle.clientName].args.includes(bundle.url));
  }
  const vscode = JSON.parse(merged.find((s) => s.client === 'vscode')!.text) as Json;
  assert.equal(Object.keys(vscode.servers).length, 3);
  assert.equal(vscode.inputs.length, 1, 'VS Code asks for the token once');
  const code = merged.find((s) => s.client === 'claude-code')!.text.split('\n');
  assert.deepEqual(code, bundles.map((b) => snippet(b, 'claude-code').text));
  const codex = parseToml(merged.find((s) => s.client === 'codex')!.text) as Json;
  assert.deepEqual(Object.keys(codex.mcp_servers), ['docs', 'Team-Docs', 'fx']);
  assert.deepEqual(mergedSnippets([]), []);
});

test('one-click install links decode to the server\'s config, in each client\'s format', () => {
  for (const serverName of NAMES) {
    for (const baseUrl of BASES) {
      const tok = token();
      const bundle = buildConnectionBundle({ serverName, baseUrl, token: tok, teammate: 'ana' });
      const cursor = bundle.installLinks.find((l) => l.client === 'cursor')!;
      const vscode = bundle.installLinks.find((l) => l.client === 'vscode')!;

      // cursor://anysphere.cursor-deeplink/mcp/install?name=$NAME&config=$BASE64_ENCODED_CONFIG
      const c = new URL(cursor.url);
      assert.equal(`${c.protocol}//${c.host}${c.pathname}`, 'cursor://anysphere.cursor-deeplink/mcp/install');
      assert.deepEqual([...c.searchParams.keys()], ['name', 'config']);
      assert.equal(c.searchParams.get('name'), bundle.clientName);
      const config = JSON.parse(Buffer.from(c.searchParams.get('config')!, 'base64').toString('utf8')) as Json;
      assert.deepEqual(config, { url: bundle.url, headers: { Authorization: `Bearer ${tok}` } });
      // The same entry the Cursor snippet has for this server in mcp.json.
      assert.deepEqual(config, JSON.parse(snippet(bundle, 'cursor').text).mcpServers[bundle.clientName]);

      // vscode:mcp/install?<encodeURIComponent(JSON)>, the --add-mcp object.
      assert.ok(vscode.url.startsWith('vscode:mcp/install?'));
      const query = vscode.url.slice('vscode:mcp/install?'.length);
      assert.doesNotMatch(query, /[{}"\s&#]/, 'fully percent-encoded');
      assert.deepEqual(JSON.parse(decodeURIComponent(query)), { name: bundle.clientName, type: 'http', url: bundle.url, headers: { Authorization: `Bearer ${tok}` } });
    }
  }
});
