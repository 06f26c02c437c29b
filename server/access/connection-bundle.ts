import { serverUrl } from './server-url.ts';

/**
 * The ready-to-paste connection snippets the share dialog and `harbor token add` show (DESIGN.md section 4).
 * Every snippet is rendered from one model, so all clients always agree on the URL and the token.
 */

export interface ConnectionInput {
  /** The hosted server's name as Harbor routes it (`/<serverName>/mcp`). */
  serverName: string;
  /** Public base URL, e.g. `https://x.trycloudflare.com` or `http://127.0.0.1:7837`. */
  baseUrl: string;
  token: string;
  teammate: string;
  /** Name the server gets inside the client; derived from serverName when absent. */
  clientName?: string;
}

export type ClientId = 'claude-code' | 'cursor' | 'vscode' | 'claude-desktop' | 'windsurf' | 'codex' | 'connector';

export interface Snippet {
  client: ClientId;
  title: string;
  language: 'shell' | 'json' | 'toml' | 'text';
  text: string;
  /** Where the text goes, when it is a file. */
  file?: string;
  /** What else the user must do, in words (may contain the token: the bundle is shown to its owner only). */
  note?: string;
}

/** A link that installs the server in a client with one click (the client asks the user to confirm). */
export interface InstallLink {
  client: 'cursor' | 'vscode';
  title: string;
  /** Carries the token, like the connector URL: shared like a password. */
  url: string;
}

export interface ConnectionBundle {
  serverName: string;
  clientName: string;
  teammate: string;
  /** The MCP endpoint, `<base>/<serverName>/mcp`; the token goes in the Authorization header. */
  url: string;
  /** `<base>/t/<token>/<serverName>/mcp`, for clients that take only a URL. A secret, like the token. */
  connectorUrl: string;
  snippets: Snippet[];
  installLinks: InstallLink[];
}

/** Environment variable Codex reads the token from (`bearer_token_env_var`). */
export const CODEX_TOKEN_ENV = 'HARBOR_TOKEN';
/** VS Code input id; shared by every Harbor server so VS Code asks for the token once. */
export const VSCODE_INPUT_ID = 'harbor-token';

/**
 * Claude Code (`claude mcp add`) and Codex (`codex mcp add`) reject server names outside
 * `[A-Za-z0-9_-]`, and the Anthropic API rejects tool names (`mcp__<server>__<tool>`) with other
 * characters, so the name a client sees is a slug of the hosted name; the URL keeps the real name.
 */
export function clientNameFor(serverName: string): string {
  const slug = serverName
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return slug || 'harbor';
}

/** The MCP endpoint, `<base>/<serverName>/mcp` (server-url.ts builds every server URL). */
export function mcpUrl(baseUrl: string, serverName: string): string {
  return serverUrl(baseUrl, serverName);
}

export function connectorUrl(baseUrl: string, serverName: string, token: string): string {
  return serverUrl(baseUrl, serverName, { token });
}

/**
 * Quotes one shell word so POSIX shells, PowerShell and cmd.exe all read it back unchanged when it can:
 * bare when plainly safe, double quotes when nothing inside is special to them, single quotes otherwise
 * (POSIX and PowerShell only; names that need this are rare once slugged).
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\-.,:/@%+=]+$/.test(word)) return word;
  if (!/[$`"\\!\r\n%]/.test(word)) return `"${word}"`;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A TOML basic string. JSON's escapes are all valid TOML escapes; TOML additionally forbids a raw DEL and
 * `\u` escapes of lone surrogates, which JSON.stringify would emit.
 */
export function tomlString(value: string): string {
  return JSON.stringify(value.replace(LONE_SURROGATE, '\uFFFD')).replace(/\x7f/g, '\\u007F');
}

export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** mcp-remote refuses plain http except to localhost/127.0.0.1 unless told otherwise. */
function mcpRemoteNeedsAllowHttp(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && hostname !== 'localhost' && hostname !== '127.0.0.1';
}

export function buildConnectionBundle(input: ConnectionInput): ConnectionBundle {
  const { serverName, token, teammate } = input;
  const name = input.clientName ?? clientNameFor(serverName);
  const url = mcpUrl(input.baseUrl, serverName);
  const connector = connectorUrl(input.baseUrl, serverName, token);
  const bearer = `Bearer ${token}`;

  const snippets: Snippet[] = [
    {
      client: 'claude-code',
      title: 'Claude Code',
      language: 'shell',
      text: ['claude', 'mcp', 'add', '--transport', 'http', name, url, '--header', `Authorization: ${bearer}`]
        .map(shellQuote)
        .join(' '),
    },
    {
      client: 'cursor',
      title: 'Cursor',
      language: 'json',
      file: '~/.cursor/mcp.json (or .cursor/mcp.json in a project)',
      text: json({ mcpServers: { [name]: { url, headers: { Authorization: bearer } } } }),
    },
    vscodeSnippet(name, url, token, teammate),
    claudeDesktopSnippet(name, url, bearer),
    {
      client: 'windsurf',
      title: 'Windsurf',
      language: 'json',
      file: '~/.codeium/windsurf/mcp_config.json',
      text: json({ mcpServers: { [name]: { serverUrl: url, headers: { Authorization: bearer } } } }),
    },
    codexSnippet(name, url, token),
    connectorSnippet(url, connector),
  ];

  return { serverName, clientName: name, teammate, url, connectorUrl: connector, snippets, installLinks: installLinks(name, url, bearer) };
}

/** VS Code prompts for the token (one input shared by every Harbor server) rather than storing it in the file. */
function vscodeSnippet(name: string, url: string, token: string, teammate: string): Snippet {
  return {
    client: 'vscode',
    title: 'VS Code',
    language: 'json',
    file: '.vscode/mcp.json',
    text: json({
      servers: { [name]: { type: 'http', url, headers: { Authorization: `Bearer \${input:${VSCODE_INPUT_ID}}` } } },
      inputs: [
        {
          type: 'promptString',
          id: VSCODE_INPUT_ID,
          description: `Harbor token for ${teammate}`,
          password: true,
        },
      ],
    }),
    note: `VS Code asks for the token when it first starts the server; paste: ${token}`,
  };
}

/** Claude Desktop speaks stdio only: npx mcp-remote bridges to the URL. */
function claudeDesktopSnippet(name: string, url: string, bearer: string): Snippet {
  const mcpRemoteArgs = ['mcp-remote', url, '--header', 'Authorization:${AUTH_HEADER}'];
  if (mcpRemoteNeedsAllowHttp(url)) mcpRemoteArgs.push('--allow-http');
  return {
    client: 'claude-desktop',
    title: 'Claude Desktop (through mcp-remote)',
    language: 'json',
    file: 'claude_desktop_config.json (Settings → Developer → Edit Config)',
    text: json({ mcpServers: { [name]: { command: 'npx', args: mcpRemoteArgs, env: { AUTH_HEADER: bearer } } } }),
    // Windows splits args on spaces, hence no space after the colon and the token in env.
    note: 'Needs Node.js on this machine; restart Claude Desktop after editing.',
  };
}

/** Codex reads the token from an environment variable the config names; the note sets it for POSIX shells and PowerShell. */
function codexSnippet(name: string, url: string, token: string): Snippet {
  return {
    client: 'codex',
    title: 'Codex',
    language: 'toml',
    file: '~/.codex/config.toml',
    text: [
      `[mcp_servers.${tomlKey(name)}]`,
      `url = ${tomlString(url)}`,
      `bearer_token_env_var = ${tomlString(CODEX_TOKEN_ENV)}`,
      '',
    ].join('\n'),
    note: [
      'Codex reads the token from the environment it starts in:',
      `export ${CODEX_TOKEN_ENV}=${shellQuote(token)}`,
      `PowerShell: $env:${CODEX_TOKEN_ENV} = '${token.replace(/'/g, "''")}'`,
    ].join('\n'),
  };
}

/** The connector URL carries the token; claude.ai and ChatGPT reach only public https. */
function connectorSnippet(url: string, connector: string): Snippet {
  return {
    client: 'connector',
    title: 'claude.ai / ChatGPT connector',
    language: 'text',
    text: connector,
    note:
      'Paste as the URL of a custom connector. The token is part of this URL: share it like a password.' +
      (new URL(url).protocol === 'https:' ? '' : '\nclaude.ai and ChatGPT reach only public https URLs: share through the tunnel.'),
  };
}

/**
 * One-click installs, in each client's documented format:
 * - Cursor (cursor.com/docs/mcp/install-links): `cursor://anysphere.cursor-deeplink/mcp/install?name=<name>&config=<base64 of
 *   the server's mcp.json entry>`; the base64 is percent-encoded, since `+` in a query reads as a space.
 * - VS Code (code.visualstudio.com/docs/copilot/guides/mcp-developer-guide, "MCP URL handler"):
 *   `vscode:mcp/install?<encodeURIComponent(JSON of the --add-mcp object: name, type, url, headers)>`.
 * The token rides in the header itself (no VS Code input prompt): a link is for one click, not a paste.
 */
function installLinks(name: string, url: string, bearer: string): InstallLink[] {
  const headers = { Authorization: bearer };
  const cursorConfig = Buffer.from(JSON.stringify({ url, headers })).toString('base64');
  const vscode = { name, type: 'http', url, headers };
  return [
    { client: 'cursor', title: 'Add to Cursor', url: `cursor://anysphere.cursor-deeplink/mcp/install?name=${encodeURIComponent(name)}&config=${encodeURIComponent(cursorConfig)}` },
    { client: 'vscode', title: 'Add to VS Code', url: `vscode:mcp/install?${encodeURIComponent(JSON.stringify(vscode))}` },
  ];
}

type JsonObject = Record<string, unknown>;

/** Merges two snippet configs: objects key by key (mcpServers, servers), arrays without repeats (VS Code's inputs). */
function mergeJson(into: JsonObject, from: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(from)) {
    const have = into[key];
    if (Array.isArray(have) && Array.isArray(value)) {
      const seen = new Set(have.map((v) => JSON.stringify(v)));
      into[key] = [...have, ...value.filter((v) => !seen.has(JSON.stringify(v)))];
    } else if (have && value && typeof have === 'object' && typeof value === 'object') into[key] = { ...(have as JsonObject), ...(value as JsonObject) };
    else into[key] = value;
  }
  return into;
}

/**
 * One snippet per client for all of a teammate's servers: a single `mcpServers` (or VS Code `servers`)
 * block to paste whole, one command per line, one TOML file. Connector URLs stay per server (each is
 * pasted into a form of its own), so the `text` snippets are not merged.
 */
export function mergedSnippets(bundles: readonly ConnectionBundle[]): Snippet[] {
  const first = bundles[0];
  if (!first) return [];
  return first.snippets
    .filter((snippet) => snippet.language !== 'text')
    .map((template) => {
      const parts = bundles.map((b) => b.snippets.find((s) => s.client === template.client)).filter((s): s is Snippet => s !== undefined);
      const text =
        template.language === 'json'
          ? json(parts.reduce<JsonObject>((merged, part) => mergeJson(merged, JSON.parse(part.text) as JsonObject), {}))
          : template.language === 'toml'
            ? parts.map((part) => part.text.replace(/\n*$/, '\n')).join('\n')
            : parts.map((part) => part.text).join('\n');
      const notes = [...new Set(parts.map((part) => part.note).filter((note) => note !== undefined))];
      return { ...template, text, ...(notes.length ? { note: notes.join('\n') } : {}) };
    });
}

/**
 * A teammate's servers as one plain-text block for a terminal: each server's URL, one-click install
 * links and connector URL, then each client's snippet once, merged over all the servers.
 */
export function renderConnectionText(bundles: readonly ConnectionBundle[]): string {
  const lines: string[] = [];
  for (const bundle of bundles) {
    lines.push(`Harbor server "${bundle.serverName}" for ${bundle.teammate}`, `  URL: ${bundle.url}  (header  Authorization: Bearer <token>)`);
    for (const link of bundle.installLinks) lines.push(`  ${link.title}: ${link.url}`);
    lines.push(`  claude.ai / ChatGPT connector: ${bundle.connectorUrl}`, '');
  }
  for (const snippet of mergedSnippets(bundles)) {
    lines.push(`== ${snippet.title}${snippet.file ? ` — ${snippet.file}` : ''}`);
    lines.push(...snippet.text.replace(/\n$/, '').split('\n').map((line) => `  ${line}`));
    if (snippet.note) lines.push(...snippet.note.split('\n').map((line) => `  # ${line}`));
    lines.push('');
  }
  if (bundles.length) lines.push('Install links and connector URLs carry the token: share them like a password.', '');
  return lines.join('\n');
}
