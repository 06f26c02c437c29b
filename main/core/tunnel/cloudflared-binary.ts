import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the packaging script puts the binary for one platform, relative to `process.resourcesPath`
 * (electron-builder `extraResources`). Node's own platform/arch names, so the packager and this
 * lookup agree without a mapping table: `darwin-arm64`, `linux-x64`, `win32-x64`.
 */
export function cloudflaredResourceDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return join('cloudflared', `${platform}-${arch}`);
}

export function cloudflaredExecutableName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'cloudflared.exe' : 'cloudflared';
}

export interface FindCloudflaredOptions {
  /** Electron's `process.resourcesPath` in a packaged app; absent in development and headless runs. */
  resourcesPath?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  arch?: string;
  /** Folders whose ancestors are searched for node_modules/cloudflared/bin; default: cwd and this module's folder. */
  searchFrom?: string[];
}

/** One line: what to install on this platform, or the variable to set. */
export function cloudflaredInstallHint(platform: NodeJS.Platform = process.platform): string {
  const install =
    platform === 'darwin'
      ? 'brew install cloudflared'
      : platform === 'win32'
        ? 'winget install --id Cloudflare.cloudflared'
        : 'install it from https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/';
  return `${install}, or set HARBOR_CLOUDFLARED=/path/to/cloudflared`;
}

/**
 * The message is one line a user can act on (what to install or set); the places searched, each
 * once, are in `searched` for a --verbose listing.
 */
export class CloudflaredNotFoundError extends Error {
  override readonly name = 'CloudflaredNotFoundError';
  readonly code = 'CLOUDFLARED_NOT_FOUND';
  /** Every path that was checked, in order, without repeats. */
  readonly searched: string[];
  constructor(searched: string[], reason: string) {
    super(`cloudflared not found: ${reason}`);
    this.searched = [...new Set(searched)];
  }
}

function isExecutableFile(path: string, platform: NodeJS.Platform): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    // Windows has no execute bit; existence of the .exe is the test there.
    if (platform !== 'win32') accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pathCandidates(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const pathVar = env.PATH ?? env.Path ?? '';
  const sep = platform === 'win32' ? ';' : delimiter;
  const names =
    platform === 'win32'
      ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean).map((ext) => `cloudflared${ext.toLowerCase()}`)
      : ['cloudflared'];
  const dirs = pathVar.split(sep).filter(Boolean);
  return dirs.flatMap((dir) => names.map((name) => join(dir, name)));
}

/** node_modules/cloudflared/bin/cloudflared in each ancestor of the start folders, nearest first. */
function npmPackageCandidates(startDirs: string[], platform: NodeJS.Platform): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const start of startDirs) {
    let dir = resolve(start);
    // Bounded by the depth of the filesystem; dirname() of the root is the root.
    for (let depth = 0; depth < 64; depth++) {
      const candidate = join(dir, 'node_modules', 'cloudflared', 'bin', cloudflaredExecutableName(platform));
      if (!seen.has(candidate)) {
        seen.add(candidate);
        found.push(candidate);
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return found;
}

/**
 * The cloudflared executable to run. Order: `$HARBOR_CLOUDFLARED` (an explicit choice; if it names a
 * missing file that is an error, not a reason to pick another binary), the packaged app's resources,
 * PATH, the `cloudflared` npm package's bin. Throws CloudflaredNotFoundError listing every place tried.
 */
export function findCloudflared(options: FindCloudflaredOptions = {}): string {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const searched: string[] = [];

  const override = env.HARBOR_CLOUDFLARED;
  if (override) {
    const path = resolve(override);
    if (isExecutableFile(path, platform)) return path;
    throw new CloudflaredNotFoundError([path], `HARBOR_CLOUDFLARED=${path} names no executable file`);
  }

  const candidates: string[] = [];
  if (options.resourcesPath) {
    candidates.push(join(options.resourcesPath, cloudflaredResourceDir(platform, arch), cloudflaredExecutableName(platform)));
  }
  candidates.push(...pathCandidates(env, platform));
  const moduleDir = dirname(fileURLToPath(import.meta.url));
  candidates.push(...npmPackageCandidates(options.searchFrom ?? [process.cwd(), moduleDir], platform));

  // A folder listed twice in PATH (common) is looked at once.
  for (const candidate of new Set(candidates)) {
    searched.push(candidate);
    if (isExecutableFile(candidate, platform)) return candidate;
  }
  throw new CloudflaredNotFoundError(searched, cloudflaredInstallHint(platform));
}
