/**
 * Downloads the pinned cloudflared release for each packaged platform into
 * `resources/cloudflared/<platform>-<arch>/` (Node's platform/arch names, as cloudflaredResourceDir()
 * expects), verifying every download against the SHA-256 pinned below before anything is written.
 * electron-builder's `extraResources` then ships the folder of the platform being built.
 *
 *   npm run fetch-cloudflared               # the targets this OS packages (both archs on macOS)
 *   npm run fetch-cloudflared -- --all      # every target
 *   npm run fetch-cloudflared -- linux-x64  # named targets
 *
 * Needs the internet (GitHub releases). To move to a new release: change CLOUDFLARED_VERSION and copy
 * each asset's SHA-256 from the release page https://github.com/cloudflare/cloudflared/releases.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const CLOUDFLARED_VERSION = '2026.8.2';
export const RELEASES_BASE = 'https://github.com/cloudflare/cloudflared/releases/download';

export interface CloudflaredAsset {
  platform: NodeJS.Platform;
  arch: string;
  /** Asset name on the release page. */
  file: string;
  /** SHA-256 of that asset (the archive itself for .tgz). */
  sha256: string;
}

/** Release assets of CLOUDFLARED_VERSION. macOS ships a .tgz holding `cloudflared`; the rest are bare binaries. */
export const ASSETS: readonly CloudflaredAsset[] = [
  { platform: 'darwin', arch: 'arm64', file: 'cloudflared-darwin-arm64.tgz', sha256: 'b61054d3d6326ea558cb49826eebf5676e0d0a36d51b546975096ca3e0e3c89d' },
  { platform: 'darwin', arch: 'x64', file: 'cloudflared-darwin-amd64.tgz', sha256: 'b0f770e1e0b281399a57219b840fd8eef1cc25387a404124248157ea2073727a' },
  { platform: 'linux', arch: 'x64', file: 'cloudflared-linux-amd64', sha256: 'fcfb02b575a52ca1af2e3267af4e1517bcdeb30ac48c834c69abaed3c0576ad2' },
  { platform: 'linux', arch: 'arm64', file: 'cloudflared-linux-arm64', sha256: '7747d94570fb390cf47dcb4f9555c193c6355cda9793f0d878d9049e5d6a7790' },
  { platform: 'win32', arch: 'x64', file: 'cloudflared-windows-amd64.exe', sha256: 'c29eee2b121f5436a642eed69fd9767da7e7b8c510fa50aaa130337f931357b5' },
];

/** cloudflared is ~40 MB; anything far larger is not what we asked for. */
const MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024;

export type Download = (url: string) => Promise<Buffer>;

export class ChecksumMismatchError extends Error {
  override readonly name = 'ChecksumMismatchError';
}

/** GET with redirects (GitHub answers with one to its object store), a size cap and a deadline. */
export async function httpDownload(url: string, options: { maxBytes?: number; timeoutMs?: number } = {}): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_DOWNLOAD_BYTES;
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(options.timeoutMs ?? 5 * 60_000) });
  if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new Error(`GET ${url}: ${declared} bytes is over the ${maxBytes}-byte cap`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > maxBytes) throw new Error(`GET ${url}: more than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The file named `name` (at any depth) in a gzipped ustar archive. */
export function extractFromTarGz(archive: Buffer, name: string): Buffer {
  const tar = gunzipSync(archive);
  // Each entry: a 512-byte header, then the content padded to 512 bytes; two zero blocks end the archive.
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('latin1').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const entryName = (prefix ? `${prefix}/` : '') + field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const start = offset + 512;
    if ((type === '0' || type === '') && entryName.replace(/^\.\//, '').split('/').pop() === name) {
      return Buffer.from(tar.subarray(start, start + size));
    }
    offset = start + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no ${name} in the archive`);
}

export function targetName(asset: Pick<CloudflaredAsset, 'platform' | 'arch'>): string {
  return `${asset.platform}-${asset.arch}`;
}

export interface FetchOptions {
  /** `<platform>-<arch>` names; default: every asset. */
  targets?: string[];
  /** Default: resources/ of this project. */
  resourcesDir?: string;
  download?: Download;
  baseUrl?: string;
  version?: string;
  assets?: readonly CloudflaredAsset[];
  log?: (line: string) => void;
}

/**
 * Fetches, verifies and installs each target; returns the executable paths. A target whose installed
 * binary came from the same verified asset (recorded beside it) is not downloaded again.
 */
export async function fetchCloudflared(options: FetchOptions = {}): Promise<string[]> {
  const assets = options.assets ?? ASSETS;
  const resourcesDir = options.resourcesDir ?? fileURLToPath(new URL('../resources', import.meta.url));
  const download = options.download ?? ((url: string) => httpDownload(url));
  const base = `${options.baseUrl ?? RELEASES_BASE}/${options.version ?? CLOUDFLARED_VERSION}`;
  const log = options.log ?? ((line: string) => console.log(line));
  const wanted = options.targets ?? assets.map(targetName);
  const unknown = wanted.filter((t) => !assets.some((a) => targetName(a) === t));
  if (unknown.length) throw new Error(`no cloudflared asset for ${unknown.join(', ')}; known: ${assets.map(targetName).join(', ')}`);

  const installed: string[] = [];
  for (const asset of assets.filter((a) => wanted.includes(targetName(a)))) {
    const dir = join(resourcesDir, 'cloudflared', targetName(asset));
    const executable = join(dir, asset.platform === 'win32' ? 'cloudflared.exe' : 'cloudflared');
    const stamp = join(dir, '.asset-sha256');
    if (existsSync(executable) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === asset.sha256) {
      log(`${targetName(asset)}: up to date`);
      installed.push(executable);
      continue;
    }
    const url = `${base}/${asset.file}`;
    log(`${targetName(asset)}: downloading ${url}`);
    const data = await download(url);
    const actual = sha256(data);
    if (actual !== asset.sha256) {
      throw new ChecksumMismatchError(`${asset.file}: SHA-256 ${actual} does not match the pinned ${asset.sha256}; nothing was written`);
    }
    const binary = asset.file.endsWith('.tgz') ? extractFromTarGz(data, 'cloudflared') : data;
    mkdirSync(dir, { recursive: true });
    // Write beside, then rename: an interrupted run never leaves a half binary under the final name.
    const partial = `${executable}.partial`;
    writeFileSync(partial, binary, { mode: 0o755 });
    chmodSync(partial, 0o755);
    renameSync(partial, executable);
    writeFileSync(stamp, `${asset.sha256}\n`);
    log(`${targetName(asset)}: verified, ${binary.length} bytes → ${executable}`);
    installed.push(executable);
  }
  return installed;
}

/** The targets one OS packages: both Mac architectures on macOS, otherwise this OS's. */
export function defaultTargets(platform: NodeJS.Platform = process.platform, assets: readonly CloudflaredAsset[] = ASSETS): string[] {
  return assets.filter((a) => a.platform === platform).map(targetName);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const targets = args.includes('--all') ? ASSETS.map(targetName) : args.filter((a) => !a.startsWith('-'));
  fetchCloudflared({ targets: targets.length ? targets : defaultTargets() }).catch((error: Error) => {
    console.error(`fetch-cloudflared: ${error.message}`);
    process.exitCode = 1;
  });
}
