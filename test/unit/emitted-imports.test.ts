import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

/**
 * The built dist/ (what the container image and `npm run bench` run) must name every relative module
 * by its .js file. tsc's rewriteRelativeImportExtensions misses some: a dynamic import('./x.ts') inside
 * a function that uses `await using` keeps its .ts (the downlevelled block is emitted after the
 * rewrite), and the container then dies with ERR_MODULE_NOT_FOUND at start. transpileModule applies
 * the same transforms per file in well under a second, without a build.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const RELATIVE_TS = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+\.[cm]?ts)\1/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

function options(config: string): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, config), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  assert.ok(parsed, config);
  return parsed.options;
}

test('every relative import in the emitted JavaScript names a .js file (dist/ runs without Node type stripping)', () => {
  const builds: Array<[string, string[]]> = [
    ['tsconfig.json', [...sources(join(ROOT, 'server')), ...sources(join(ROOT, 'main')).filter((f) => !f.includes(`${join('main', 'shell')}`))]],
    ['tsconfig.shell.json', sources(join(ROOT, 'main', 'shell'))],
  ];
  const left: string[] = [];
  let files = 0;
  for (const [config, paths] of builds) {
    const compilerOptions = options(config);
    for (const file of paths) {
      files++;
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
      for (const match of outputText.matchAll(RELATIVE_TS)) left.push(`${relative(ROOT, file)}: ${match[2]}`);
    }
  }
  assert.ok(files > 100, `only ${files} files found`);
  assert.deepEqual(left, []);
});
