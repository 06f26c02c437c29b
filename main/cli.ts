#!/usr/bin/env node
import { harborHome } from '../server/harbor-home.ts';
import { HARBOR_VERSION } from '../server/version.ts';
import { COMMAND_HELP, wantsHelp } from './commands/command-help.ts';
import { UsageError } from './commands/common.ts';
import { interpretOnly, runsHostInProcess } from './commands/supervisor-v8.ts';

// First, before any command's modules load (set later, `serve` kept 5 MB more): every command here
// supervises or runs once, except the container's host, which serves in this process.
if (!runsHostInProcess(process.argv.slice(2))) interpretOnly();

const HELP = `harbor ${HARBOR_VERSION}: host MCP servers on this machine and share them with your team.

Usage: harbor <command> [options]

Commands:
  serve [--config PATH] [--port N]   Run the host in the foreground. Prints its base URL.
                                     --port 0 picks a free port. Default port 7837 (or config "port").
                                     --container (or HARBOR_CONTAINER=1): the host in this process, bound
                                     to HARBOR_HOST:PORT, no tunnel, JSON logs on stdout (HARBOR_REPLICA),
                                     admin API only with HARBOR_ADMIN_SECRET, SIGTERM drains calls 10 s.
  token add <name> [--json] [--scope docs,github] [--expires-days N]
                                     Create a teammate token and print it once, with ready-to-paste
                                     snippets for Claude Code, Cursor, VS Code, Claude Desktop, Windsurf,
                                     Codex and connectors (--json: {"name","token","bundles"}).
  token list [--json]                List teammates: created, last used, calls, revoked.
  token revoke <name>                Revoke a teammate's token; their next request gets 401 and
                                     (with the host running) their open sessions close at once.
  invite <name> [--code] [--json]    Invite a teammate to sign in with Harbor (config "auth": "both"):
                                     connection URLs with no secret in them, optionally a one-time code.
  approvals [--json]                 Sign-in requests waiting for you (who, from which client, invited?).
  approve <id> | deny <id>           Let a waiting sign-in in, or refuse it.
  share [--named TOKEN --hostname H] [--verbose]
                                     Share the running host through a Cloudflare tunnel: a quick tunnel
                                     (no account; the URL changes on restart) or a named one (stable
                                     hostname; the token is kept in the OS keychain). Resumes on restart.
  unshare                            Stop sharing.
  activity [--teammate N] [--server S] [--limit 50] [--json]
                                     Who called which tool, when, how long, and whether it failed.
  restart <server> [--copy N]        Restart a hosted server: every copy of a pool (replicas), one after
                                     another, or copy N only.
  logs <server|host> [--copy N] [--lines 200] [--json] [--server]
                                     The last lines a process wrote; a pool's lines name their copy.
  export <dir> [--config PATH] [--with-tokens] [--force]
                                     Write a container deployment of the host: Dockerfile, compose.yaml
                                     (2 replicas + nginx + PostgreSQL), nginx.conf, k8s/, config.json with
                                     secrets as \${VAR} references, README; --with-tokens adds the hashed tokens.
  status [--json]                    What is served (names and URLs) and the dashboard link; each process
                                     of the running host: state, pid, uptime, restarts, memory and % of
                                     its limit, last exit reason; health and its reasons; the tunnel; the
                                     six metrics; the caches. Exit 3 if not running.
  dashboard                          Open the dashboard in the browser (or print its link).
  help                               Show this help. harbor <command> --help: that command's options.

Environment:
  HARBOR_HOME        Folder for config.json, the database, logs and the default docs folder
                     (default: ${harborHome()}).
  HARBOR_LOG_LEVEL   pino level: trace, debug, info (default), warn, error.
  HARBOR_CLOUDFLARED Path of the cloudflared binary (else the app's bundled one, PATH, npm package).
  HARBOR_TUNNEL_TIMEOUT_SECONDS  How long a tunnel may take to get its URL (default 30).

Config (HARBOR_HOME/config.json): the "mcpServers" shape of Claude Desktop and Cursor, plus Harbor's
fields (mode, memoryLimitMb, cache, ...). With no config, Harbor serves the built-in "docs" server over
HARBOR_HOME/docs. See README.md.
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const help = command !== undefined ? COMMAND_HELP[command] : undefined;
  if (help && wantsHelp(rest)) {
    process.stdout.write(help);
    return;
  }
  switch (command) {
    // Each command loads only what it needs: `serve` stays a small supervisor process.
    case 'serve':
      return (await import('./commands/serve.ts')).serve(rest);
    case 'token':
      return (await import('./commands/token.ts')).token(rest);
    case 'status':
      return (await import('./commands/host-commands.ts')).status(rest);
    case 'invite':
      return (await import('./commands/invite.ts')).invite(rest);
    case 'approvals':
      return (await import('./commands/approvals.ts')).approvals(rest);
    case 'approve':
    case 'deny':
      return (await import('./commands/approvals.ts')).decide(rest, command === 'approve');
    case 'share':
      return (await import('./commands/host-commands.ts')).share(rest);
    case 'unshare':
      return (await import('./commands/host-commands.ts')).unshare();
    case 'activity':
      return (await import('./commands/host-commands.ts')).activity(rest);
    case 'restart':
      return (await import('./commands/host-commands.ts')).restart(rest);
    case 'logs':
      return (await import('./commands/host-commands.ts')).logs(rest);
    case 'export':
      return (await import('./commands/export.ts')).exportBundle(rest);
    case 'dashboard':
      return (await import('./commands/dashboard.ts')).dashboard(rest);
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

// `harbor status | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// Errors are told apart by name: their classes live in modules only some commands load.
main(process.argv.slice(2)).catch((error: unknown) => {
  const name = (error as Error).name;
  if (name === 'ConfigError') {
    process.stderr.write(`harbor: ${(error as Error).message}\nThe file was left unchanged.\n`);
    process.exit(2);
  }
  if (name === 'HomeLockedError') {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  if (name === 'HostStartError') {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const code = (error as { code?: unknown }).code;
  if (error instanceof UsageError || name === 'TokenNameError' || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`harbor: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (code === 'EADDRINUSE') {
    process.stderr.write(`harbor: the port is in use (${(error as Error).message}); pass --port N or --port 0\n`);
    process.exit(1);
  }
  process.stderr.write(`harbor: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
