/**
 * The MCP SDK's `DEFAULT_INHERITED_ENV_VARS` (@modelcontextprotocol/sdk/client/stdio.js), copied rather
 * than imported: importing it loads the SDK's client and its zod schemas, which the controller (it
 * supervises the host child and cloudflared through this module) otherwise never loads. Measured on
 * the built JS: this module alone cost 27 MB of RSS over a bare Node with the import, under 1 MB
 * without. test/unit/child-env-sdk-list.test.ts fails when the SDK's lists change.
 */
export const SDK_INHERITED_ENV_VARS = {
  posix: ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'],
  win32: ['APPDATA', 'HOMEDRIVE', 'HOMEPATH', 'LOCALAPPDATA', 'PATH', 'PROCESSOR_ARCHITECTURE', 'SYSTEMDRIVE', 'SYSTEMROOT', 'TEMP', 'USERNAME', 'USERPROFILE', 'PROGRAMFILES'],
} as const;
const DEFAULT_INHERITED_ENV_VARS: readonly string[] = process.platform === 'win32' ? SDK_INHERITED_ENV_VARS.win32 : SDK_INHERITED_ENV_VARS.posix;

/**
 * The environment a supervised child starts from. A hosted MCP server is code a teammate can make
 * talk (server-everything's `get-env` prints its whole environment), so it gets a minimal base and
 * what its config entry names, never Harbor's own variables (the admin secret, a tunnel token,
 * embeddings keys, the host's NODE_OPTIONS).
 *
 * The base is the MCP SDK's own `DEFAULT_INHERITED_ENV_VARS` (what StdioClientTransport passes, "inspired
 * by sudo's default env inheritance"), so a server that runs under Claude Desktop or the SDK runs here,
 * plus the few below it lacks. Values that start with `()` are skipped as the SDK does (exported
 * bash functions, the Shellshock vector).
 */
const EXTRA_POSIX = [
  // os.tmpdir(), npm's and Python's temporary files: without it they fall back to /tmp, wrong on macOS.
  'TMPDIR',
  // Locale: Python servers pick their stdio encoding from it (a C locale breaks UTF-8 answers).
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  // Trust stores, paths only: behind a TLS-inspecting proxy `npx -y` cannot download without them.
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

const EXTRA_WINDOWS = [
  // Not in the SDK's list, needed by `npx` itself: cmd.exe runs npx.cmd (COMSPEC), a bare `npx`
  // resolves through PATHEXT, and npm's global prefix/cache live under ProgramData/ProgramFiles.
  'COMSPEC',
  'PATHEXT',
  'WINDIR',
  'TMP',
  'ProgramData',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'CommonProgramFiles',
  'NUMBER_OF_PROCESSORS',
  'NODE_EXTRA_CA_CERTS',
  // Locale, as on POSIX (rarely set on Windows, harmless when absent).
  'LANG',
];

/** Names copied from this process into a hosted server's environment, when set. */
export const MINIMAL_ENV_NAMES: readonly string[] = [
  ...DEFAULT_INHERITED_ENV_VARS,
  ...(process.platform === 'win32' ? EXTRA_WINDOWS : EXTRA_POSIX),
];

/**
 * Harbor's own secrets by name: never passed on by inheritance, not even to the children that get this
 * process's whole environment (the host child, cloudflared). A child that needs one (the host its admin
 * secret, cloudflared its TUNNEL_TOKEN) is given it explicitly in its own `env`.
 */
export const HARBOR_SECRET_NAMES: readonly string[] = ['HARBOR_ADMIN_SECRET', 'TUNNEL_TOKEN', 'HARBOR_STATE_SECRET'];

/** Whether `name` is one of Harbor's own secrets (compared as this platform compares names). */
export function isHarborSecretName(name: string): boolean {
  return HARBOR_SECRET_NAMES.some((secret) => caseKey(secret) === caseKey(name));
}

/** The minimal base: MINIMAL_ENV_NAMES (and LC_* locale variables) present in `from`. */
export function minimalEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  const wanted = new Set(MINIMAL_ENV_NAMES.map(caseKey));
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined || value.startsWith('()')) continue;
    if (wanted.has(caseKey(name)) || name.startsWith('LC_')) env[name] = value;
  }
  return env;
}

/** `from` less Harbor's secret names: the base of a child of ours that needs the user's whole environment. */
export function withoutHarborSecrets(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const secrets = new Set(HARBOR_SECRET_NAMES.map(caseKey));
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) if (!secrets.has(caseKey(name))) env[name] = value;
  return env;
}

/** Windows environment names are case-insensitive (`Path`, `SystemRoot`); POSIX names are not. */
function caseKey(name: string): string {
  return process.platform === 'win32' ? name.toUpperCase() : name;
}
