/**
 * `harbor <command> --help`: each command's usage and options. The overview (`harbor --help`) is in
 * cli.ts; this is the detail per command. A command not listed here handles --help itself.
 */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  serve: `Usage: harbor serve [--config PATH] [--port N]

Run the host in the foreground (Ctrl-C stops it; a second Ctrl-C stops it at once). Prints the URL of
each served server. One serve per HARBOR_HOME: a second one says where the first runs and exits 1.

Options:
  --config PATH   config.json to use (default: HARBOR_HOME/config.json)
  --port N        port to listen on (default: config "port", else 7837); 0 picks a free port
  --container     container mode (also HARBOR_CONTAINER=1): the host in this process, bound to
                  HARBOR_HOST (0.0.0.0) and PORT, no tunnel, JSON logs on stdout naming HARBOR_REPLICA,
                  the admin API only with HARBOR_ADMIN_SECRET, SIGTERM lets calls finish for
                  HARBOR_DRAIN_SECONDS (10); HARBOR_HEARTBEAT_SECONDS, HARBOR_ALLOWED_HOSTS, HARBOR_TOKENS_FILE;
                  replicas: HARBOR_REPLICA_URL (where the others reach this one), HARBOR_STATE_SECRET
`,
  export: `Usage: harbor export <dir> [--config PATH] [--with-tokens] [--force] [--json]

Write the host alone as a container deployment into <dir>: Dockerfile, compose.yaml (two replicas,
nginx, PostgreSQL 15), nginx.conf, k8s/, config.json with every hosted server's env value as a
\${VAR} reference (set them in .env, see .env.example), Harbor itself (harbor/) and a README with the
steps for a VM, ECS Fargate and Kubernetes. Entries that cannot run in a container are warnings.

Options:
  --config PATH   config.json to carry over (default: HARBOR_HOME/config.json)
  --with-tokens   add tokens.json: teammates' names and hashed tokens (never a usable token)
  --force         replace <dir> when it exists and is not empty
  --json          one JSON line: files, variables, warnings
`,
  token: `Usage: harbor token add <name> [--scope docs,github] [--expires-days N] [--json]
       harbor token list [--json]
       harbor token revoke <name>

add     Create a teammate token and print it once, with ready-to-paste snippets for Claude Code,
        Cursor, VS Code, Claude Desktop, Windsurf, Codex and connectors.
          --scope S,...      only these servers (default: all)
          --expires-days N   the token stops working after N days
          --json             {"name","token","bundles"} on one line
list    Teammates: created, last used, calls, revoked.
revoke  Revoke a token; the next request gets 401 and (with the host running) open sessions close.
`,
  share: `Usage: harbor share [--named TOKEN --hostname HOST] [--json] [--verbose]

Share the running host through a Cloudflare tunnel: a quick tunnel (no account; the URL changes on
each restart) or a named one (a stable hostname; the token is kept in the OS keychain). Sharing
resumes when Harbor restarts; harbor unshare stops it.

Options:
  --named TOKEN     a named tunnel's token (needed once; reused after)
  --hostname HOST   the public hostname set up for the named tunnel
  --json            the share state as JSON
  --verbose         when cloudflared is not found, list every place Harbor looked

cloudflared is looked for in HARBOR_CLOUDFLARED, the app's bundled copy, PATH and the cloudflared
npm package.
`,
  unshare: `Usage: harbor unshare

Stop sharing: the public URL no longer reaches this host, and sharing does not resume on restart.
`,
  activity: `Usage: harbor activity [--teammate NAME] [--server NAME] [--limit 50] [--json]

Who called which tool, when, how long it took, and whether it failed (newest first). Works with the
host stopped too (read from the database).
`,
  restart: `Usage: harbor restart <server> [--copy N]

Restart a hosted server of the running host. A server with replicas restarts every copy, one after
another, each back online before the next goes down (the others keep serving); --copy N restarts
copy N only (0 is the first). Calls running on a copy as it goes down fail, except read-only ones,
which are replayed.
`,
  logs: `Usage: harbor logs <server|host> [--copy N] [--lines 200] [--json] [--server]

The last lines (1 to 2000) a process of the running host wrote: a hosted server's stdout/stderr and
its supervisor's notes, or the host's own log. A server with replicas shows every copy's lines, oldest
first, each marked [copy N]; --copy N shows one copy's. "host" is Harbor's host; --server reads the
name as a hosted server's (for a server called host).
`,
  status: `Usage: harbor status [--json]

What is served (names and URLs), the dashboard link, each process of the running host (state, pid,
uptime, restarts, memory and % of its limit, last exit), health and its reasons, the tunnel, the six
metrics with their alerts, and the caches. Exit 3 if Harbor is not running.
`,
  dashboard: `Usage: harbor dashboard

Open the running host's dashboard in the browser (xdg-open, open or start). Where none is found,
print the link instead. The link carries this launch's admin key and works from this machine only.
`,
};

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}
