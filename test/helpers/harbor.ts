import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ADMIN_SECRET_HEADER } from '../../server/admin/admin-api.ts';
import { startHost, type Host, type HostOptions } from '../../server/host.ts';
import { silentLogger } from '../../server/logger.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'harbor-test-'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export interface TestHost {
  host: Host;
  url: string;
  token: string;
  home: string;
  close(): Promise<void>;
}

/** A real host on 127.0.0.1 port 0 with a temp HARBOR_HOME, the given config, and one teammate token. */
export async function startTestHost(config: object | null, options: Partial<HostOptions> = {}): Promise<TestHost> {
  const { home, cleanup } = tempHome();
  if (config) writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  const host = await startHost({ home, port: 0, log: silentLogger, ...options });
  const { token } = host.tokens.issue('alice');
  return {
    host,
    url: host.url,
    token,
    home,
    async close() {
      await host.close();
      cleanup();
    },
  };
}

/** Per-teammate limits high enough that routing tests (one token, many sessions) never meet them. */
export const GENEROUS_LIMITS = { requestsPerSecond: 100_000, burst: 100_000, sessionsPerTeammate: 1000 };

export function everythingConfig(mode: 'shared' | 'serial' | 'isolated' = 'shared', extra: object = {}) {
  return {
    mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], mode, ...extra } },
    limits: GENEROUS_LIMITS,
  };
}

/**
 * A teammate's token issued through a host's admin API (POST /admin/teammates, as `harbor token add`
 * does against a running host), for hosts a test reaches from outside; throws unless it answers 201.
 */
export async function issueThroughAdmin(url: string, adminSecret: string, name = 'alice'): Promise<string> {
  const issued = await fetch(`${url}/admin/teammates`, {
    method: 'POST',
    headers: { [ADMIN_SECRET_HEADER]: adminSecret, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (issued.status !== 201) throw new Error(`could not issue a token for ${name}: ${issued.status} ${await issued.text()}`);
  return ((await issued.json()) as { token: string }).token;
}

export function authHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export interface ConnectOptions {
  capabilities?: Record<string, unknown>;
  legacy?: boolean;
  name?: string;
}

/** An SDK client connected through Harbor. */
export async function connectClient(url: string, server: string, token: string, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client({ name: options.name ?? 'test-client', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  const requestInit = { headers: authHeaders(token) };
  const transport = options.legacy
    ? new SSEClientTransport(new URL(`${url}/sse/${server}`), {
        requestInit,
        eventSourceInit: {
          fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...authHeaders(token) } }),
        },
      })
    : new StreamableHTTPClientTransport(new URL(`${url}/mcp/${server}`), { requestInit });
  await client.connect(transport);
  return client;
}

/** Polls until `check` returns a truthy value; bounded in time. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

export const FIXTURE_SERVER = join(ROOT, 'test/fixtures/servers/fixture-server.ts');

/** Config entry for the fixture MCP server, with env switches. */
export function fixtureServer(env: Record<string, string> = {}, extra: object = {}) {
  return { command: process.execPath, args: [FIXTURE_SERVER], env, ...extra };
}

/** Zombie-aware (PID 1 here may not reap orphans): a zombie has exited. */
export { isAlive } from '../../server/supervision/process-tree.ts';
