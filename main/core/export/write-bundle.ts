import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { ExportResult } from '../../../server/admin/host-api.ts';
import { exportHashedTokens } from '../../../server/auth/token-transfer.ts';
import { HarborConfigSchema } from '../../../server/config/config-schema.ts';
import { parseConfigFile } from '../../../server/config/load-config.ts';
import { openDatabase } from '../../../server/store/sqlite-database.ts';
import { carryConfig } from './carry-config.ts';
import { deployPaths } from './deploy-paths.ts';
import { copyHarborPackage } from './harbor-package.ts';
import { renderBundle } from './render-bundle.ts';

const CONTAINER_PORT = 7837;
const REPLICAS = ['harbor-1', 'harbor-2'];

export interface WriteBundleOptions {
  /** Absolute: the CLI resolves its argument; the app's request names a folder on this machine. */
  dir: string;
  configFile: string;
  /** The SQLite store the teammates' hashed tokens are read from (withTokens). */
  databaseFile: string;
  withTokens: boolean;
  /** Replace a folder that is not empty. */
  force: boolean;
  /** Progress lines, for the CLI's output. */
  say?: (line: string) => void;
}

/** A request the export cannot carry out as asked: 400 (bad folder), 409 (folder in use). */
export class ExportError extends Error {
  override readonly name = 'ExportError';
  readonly status: 400 | 409;
  constructor(message: string, status: 400 | 409) {
    super(message);
    this.status = status;
  }
}

/** The config file as written (the bundle carries the user's fields, not the defaults), validated. */
function readConfig(file: string): { raw: Record<string, unknown>; maxBodyBytes: number } {
  if (!existsSync(file)) return { raw: {}, maxBodyBytes: HarborConfigSchema.parse({}).maxBodyBytes };
  const { raw, config } = parseConfigFile(file);
  return { raw, maxBodyBytes: config.maxBodyBytes };
}

function prepareFolder(dir: string, force: boolean): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!force) throw new ExportError(`${dir} exists and is not empty; pick another folder or pass --force to replace it`, 409);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
}

/**
 * `harbor export` and the app's "Move to a server…" alike: the bundle for the host alone, as a
 * container deployment (DESIGN.md section 9), written into `dir`.
 */
export async function writeBundle(o: WriteBundleOptions): Promise<ExportResult> {
  if (!isAbsolute(o.dir)) throw new ExportError(`the folder must be an absolute path, got "${o.dir}"`, 400);
  const say = o.say ?? (() => {});
  const { raw, maxBodyBytes } = readConfig(o.configFile);
  const carried = carryConfig(raw, CONTAINER_PORT);
  prepareFolder(o.dir, o.force);
  say(`Exporting ${existsSync(o.configFile) ? o.configFile : 'the default config (built-in docs server)'} to ${o.dir}`);

  const files = renderBundle({ carried, maxBodyBytes, port: CONTAINER_PORT, replicas: REPLICAS, withTokens: o.withTokens });
  for (const [file, text] of files) {
    mkdirSync(dirname(join(o.dir, file)), { recursive: true });
    await writeFile(join(o.dir, file), text);
  }
  say(`  wrote ${[...files.keys()].join(', ')}`);

  let teammates = 0;
  if (o.withTokens) {
    const db = openDatabase(o.databaseFile);
    try {
      const tokens = exportHashedTokens(db);
      teammates = tokens.teammates.length;
      await writeFile(join(o.dir, 'tokens.json'), JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
    } finally {
      db.close();
    }
    say(`  wrote tokens.json: ${teammates} teammate(s), hashed tokens only`);
  }

  say('  copying Harbor and its production dependencies into harbor/ ...');
  const packages = await copyHarborPackage(join(o.dir, 'harbor'));
  say(`  copied ${packages} packages`);

  return {
    dir: o.dir,
    files: [...files.keys(), 'harbor/', ...(o.withTokens ? ['tokens.json'] : [])],
    variables: carried.variables,
    warnings: carried.warnings,
    teammates,
    readme: join(o.dir, 'README.md'),
    nextSteps: deployPaths(files.get('README.md') ?? ''),
  };
}
