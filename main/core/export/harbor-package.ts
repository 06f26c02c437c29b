import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PACKAGE_NAME = 'mcp-harbor';

/** The folder of Harbor's package.json, from source (main/core/export) or from dist/. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package above ${from}`);
  }
}

/**
 * Top-level folders of the production dependency tree (`npm ls --omit=dev`): the image gets exactly
 * what the host needs at run time, not the desktop app's build tools.
 */
async function productionModules(root: string): Promise<string[]> {
  let out: string;
  try {
    ({ stdout: out } = await promisify(execFile)('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    // npm ls exits 1 on an extraneous or missing optional package and still prints the tree.
    out = (error as { stdout?: string }).stdout ?? '';
    if (!out) throw new Error(`npm ls failed in ${root}: ${(error as Error).message}`);
  }
  return out
    .split('\n')
    .map((line) => relative(root, line.trim()))
    .filter((path) => path.startsWith('node_modules') && path.split(sep).filter((part) => part === 'node_modules').length === 1);
}

/**
 * Copies Harbor as it runs here into `<dest>`: a trimmed package.json (no build scripts), the
 * compiled dist/ and the production node_modules. Returns the number of packages copied.
 * Asynchronous: the app's controller runs it too ("Move to a server…"), and the seconds of copying
 * must not stall the event loop that supervises the host (and, in Electron, draws the tray).
 */
export async function copyHarborPackage(dest: string, root = packageRoot()): Promise<number> {
  const cli = join(root, 'dist', 'main', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build Harbor first (npm run build)`);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  await mkdir(dest, { recursive: true });
  const { name, version, type, license, bin, engines, dependencies } = manifest;
  await writeFile(join(dest, 'package.json'), JSON.stringify({ name, version, type, license, bin, engines, dependencies }, null, 2) + '\n');
  // Source maps stay behind: they double the size and name this machine's paths.
  await cp(join(root, 'dist'), join(dest, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  const modules = await productionModules(root);
  for (const module of modules) await cp(join(root, module), join(dest, module), { recursive: true, dereference: true });
  return modules.length;
}
