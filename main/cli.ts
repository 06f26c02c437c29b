#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { SqliteTokenStore, TokenNameError } from '../server/auth/token-store.ts';
import { ConfigError } from '../server/config/load-config.ts';
import { ensureHome, harborHome, harborPaths } from '../server/harbor-home.ts';
import { startHost } from '../server/host.ts';
import { createLogger } from '../server/logger.ts';
import { openDatabase } from '../server/store/sqlite-database.ts';
import { HARBOR_VERSION } from '../server/version.ts';

const HELP = `harbor ${HARBOR_VERSION}: host MCP servers on this machine and share them with your team.

Usage: harbor <command> [options]

Commands:
  serve [--config PATH] [--port N]   Run the host in the foreground. Prints its base URL.
                                     --port 0 picks a free port. Default port 7837 (or config "port").
  token add <name> [--json]          Create a teammate token and print it once (--json: {"name","token"}).
  token list [--json]                List teammates: created, last used, calls, revoked.
  token revoke <name>                Revoke a teammate's token; their next request gets 401.
  help                               Show this help.

Environment:
  HARBOR_HOME        Folder for config.json, the database, logs and the default docs folder
                     (default: ${harborHome()}).
  HARBOR_LOG_LEVEL   pino level: trace, debug, info (default), warn, error.

Config (HARBOR_HOME/config.json): the "mcpServers" shape of Claude Desktop and Cursor, plus Harbor's
fields (mode, memoryLimitMb, cache, ...). With no config, Harbor serves the built-in "docs" server over
HARBOR_HOME/docs. See README.md.
`;

class UsageError extends Error {}

function homePaths() {
  const paths = harborPaths(harborHome());
  ensureHome(paths);
  return paths;
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' } }, strict: true });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
  }
  const paths = homePaths();
  const log = createLogger();
  const host = await startHost({
    home: paths.home,
    ...(values.config ? { configFile: values.config } : {}),
    ...(port !== undefined ? { port } : {}),
    log,
  });
  process.stdout.write(`Harbor is serving ${[...host.servers.keys()].map((s) => `/mcp/${s}`).join(', ')} at ${host.url}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    host.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function token(args: string[]): void {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const db = openDatabase(homePaths().database);
  const store = new SqliteTokenStore(db);
  try {
    switch (sub) {
      case 'add': {
        const name = positionals.join(' ');
        if (!name) throw new UsageError('usage: harbor token add <name> [--json]');
        const { token } = store.issue(name);
        if (values.json) process.stdout.write(JSON.stringify({ name: name.trim(), token }) + '\n');
        else {
          process.stdout.write(`Token for ${name.trim()} (shown once; Harbor keeps only its hash):\n\n  ${token}\n\n`);
          process.stdout.write(`They connect with the header "Authorization: Bearer <token>", e.g. Claude Code:\n`);
          process.stdout.write(`  claude mcp add --transport http docs http://127.0.0.1:7837/mcp/docs --header "Authorization: Bearer ${token}"\n`);
        }
        return;
      }
      case 'list': {
        const teammates = store.list();
        if (values.json) {
          process.stdout.write(JSON.stringify(teammates, null, 2) + '\n');
          return;
        }
        if (teammates.length === 0) {
          process.stdout.write('No teammates yet. Add one with: harbor token add <name>\n');
          return;
        }
        const date = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');
        const rows = [['NAME', 'CREATED', 'LAST USED', 'CALLS', 'STATUS']];
        for (const t of teammates) {
          rows.push([t.name, date(t.createdAt), date(t.lastUsedAt), String(t.calls), t.revokedAt ? `revoked ${date(t.revokedAt)}` : 'active']);
        }
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
        return;
      }
      case 'revoke': {
        const name = positionals.join(' ');
        if (!name) throw new UsageError('usage: harbor token revoke <name>');
        if (!store.revoke(name)) throw new UsageError(`no active token for "${name}"`);
        process.stdout.write(`Revoked ${name}. Their next request is refused.\n`);
        return;
      }
      default:
        throw new UsageError('usage: harbor token add|list|revoke ...');
    }
  } finally {
    db.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'token':
      return token(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case '--version':
    case '-v':
      process.stdout.write(`${HARBOR_VERSION}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}". Run harbor --help.`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`harbor: ${error.message}\nThe file was left unchanged.\n`);
    process.exit(2);
  }
  if (error instanceof UsageError || error instanceof TokenNameError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`harbor: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if ((error as { code?: string }).code === 'EADDRINUSE') {
    process.stderr.write(`harbor: the port is in use (${(error as Error).message}); pass --port N or --port 0\n`);
    process.exit(1);
  }
  process.stderr.write(`harbor: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
