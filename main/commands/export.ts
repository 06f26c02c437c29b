import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ExportError, writeBundle } from '../core/export/write-bundle.ts';
import { homePaths, UsageError } from './common.ts';

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

  let result: Awaited<ReturnType<typeof writeBundle>>;
  try {
    result = await writeBundle({ dir, configFile, databaseFile: paths.database, withTokens: values['with-tokens'] === true, force: values.force === true, say });
  } catch (error) {
    if (error instanceof ExportError) throw new UsageError(error.message);
    throw error;
  }

  for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (values.json) {
    const { dir: written, files, variables, warnings, teammates } = result;
    process.stdout.write(JSON.stringify({ dir: written, files, variables, warnings, teammates }) + '\n');
    return;
  }
  say(`Done. Next: read ${result.readme}`);
  if (result.variables.length) say(`  set ${result.variables.map((v) => v.name).join(', ')} in ${join(dir, '.env')} (see .env.example)`);
  say(`  cd ${dir} && docker compose up -d --build`);
}
