import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportHashedTokens } from '../../server/auth/token-transfer.ts';
import { HarborConfigSchema } from '../../server/config/config-schema.ts';
import { parseConfigFile } from '../../server/config/load-config.ts';
import { openDatabase } from '../../server/store/sqlite-database.ts';
import { carryConfig } from '../core/export/carry-config.ts';
import { copyHarborPackage } from '../core/export/harbor-package.ts';
import { renderBundle } from '../core/export/render-bundle.ts';
import { homePaths, UsageError } from './common.ts';

const CONTAINER_PORT = 7837;
const REPLICAS = ['harbor-1', 'harbor-2'];

/** The config file as written (the bundle carries the user's fields, not the defaults), validated. */
function readConfig(file: string): { raw: Record<string, unknown>; maxBodyBytes: number } {
  if (!existsSync(file)) return { raw: {}, maxBodyBytes: HarborConfigSchema.parse({}).maxBodyBytes };
  const { raw, config } = parseConfigFile(file);
  return { raw, maxBodyBytes: config.maxBodyBytes };
}

function prepareFolder(dir: string, force: boolean): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!force) throw new UsageError(`${dir} exists and is not empty; pick another folder or pass --force to replace it`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
}

/** `harbor export <dir>`: the host alone, as a container deployment (DESIGN.md section 9). */
export async function exportBundle(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { config: { type: 'string' }, force: { type: 'boolean' }, 'with-tokens': { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('usage: harbor export <dir> [--config PATH] [--with-tokens] [--force]');
  const dir = resolve(positionals[0]!);
  const paths = homePaths();
  const configFile = values.config ?? paths.config;
  const say = (line: string) => {
    if (!values.json) process.stdout.write(line + '\n');
  };

  const { raw, maxBodyBytes } = readConfig(configFile);
  const carried = carryConfig(raw, CONTAINER_PORT);
  prepareFolder(dir, values.force === true);
  say(`Exporting ${existsSync(configFile) ? configFile : 'the default config (built-in docs server)'} to ${dir}`);

  const withTokens = values['with-tokens'] === true;
  const files = renderBundle({ carried, maxBodyBytes, port: CONTAINER_PORT, replicas: REPLICAS, withTokens });
  for (const [file, text] of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  say(`  wrote ${[...files.keys()].join(', ')}`);

  let teammates = 0;
  if (withTokens) {
    const db = openDatabase(paths.database);
    try {
      const tokens = exportHashedTokens(db);
      teammates = tokens.teammates.length;
      writeFileSync(join(dir, 'tokens.json'), JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
    } finally {
      db.close();
    }
    say(`  wrote tokens.json: ${teammates} teammate(s), hashed tokens only`);
  }

  say('  copying Harbor and its production dependencies into harbor/ ...');
  const packages = copyHarborPackage(join(dir, 'harbor'));
  say(`  copied ${packages} packages`);

  for (const warning of carried.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (values.json) {
    process.stdout.write(JSON.stringify({ dir, files: [...files.keys(), 'harbor/', ...(withTokens ? ['tokens.json'] : [])], variables: carried.variables, warnings: carried.warnings, teammates }) + '\n');
    return;
  }
  say(`Done. Next: read ${join(dir, 'README.md')}`);
  if (carried.variables.length) say(`  set ${carried.variables.map((v) => v.name).join(', ')} in ${join(dir, '.env')} (see .env.example)`);
  say(`  cd ${dir} && docker compose up -d --build`);
}
