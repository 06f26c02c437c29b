/**
 * The longest functions in the code base, measured on the TypeScript AST: function declarations and
 * expressions, arrow functions, methods, constructors and accessors, each with its own line count
 * (first to last line of the node, nested functions included: a function is as long as it reads).
 *
 *   node scripts/longest-functions.ts                 # the 20 longest under server/ and main/
 *   node scripts/longest-functions.ts --top 40        # more rows
 *   node scripts/longest-functions.ts --json          # machine-readable, same rows
 *   node scripts/longest-functions.ts renderer bench  # other folders
 *
 * Parsing only (no program, no type check), so it runs in a second over a tree with half-done edits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { projectPath, sourceFiles } from './source-files.ts';

export interface FunctionLength {
  file: string;
  line: number;
  lines: number;
  name: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** A readable name: the declared one, else what it is assigned to or passed as (`x = () =>`, `{ key: () => }`). */
function functionName(node: ts.FunctionLikeDeclaration, file: ts.SourceFile): string {
  const owner = (n: ts.Node): string => {
    const cls = n.parent;
    return cls && ts.isClassLike(cls) && cls.name ? `${cls.name.text}.` : '';
  };
  if (ts.isConstructorDeclaration(node)) return `${owner(node)}constructor`;
  if (node.name) return `${owner(node)}${node.name.getText(file)}`;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return `${ts.isPropertyDeclaration(parent) ? owner(parent) : ''}${parent.name.getText(file)}`;
  }
  if (ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText(file).slice(0, 40)}>`;
  return '<anonymous>';
}

export function measureFile(path: string, root = ROOT): FunctionLength[] {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const rel = projectPath(root, path);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionLike(node) && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file: rel, line: start + 1, lines: end - start + 1, name: functionName(node, file) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

export function longestFunctions(folders: string[], top: number, root = ROOT): FunctionLength[] {
  const all = folders.flatMap((folder) => sourceFiles(join(root, folder)).flatMap((path) => measureFile(path, root)));
  return all.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line).slice(0, top);
}

function main(argv: string[]): void {
  let top = 20;
  let json = false;
  const folders: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--top') top = Number(argv[++i]);
    else folders.push(arg);
  }
  if (!Number.isInteger(top) || top < 1) throw new Error('--top wants a positive whole number');
  const rows = longestFunctions(folders.length ? folders : ['server', 'main'], top);
  if (json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  for (const row of rows) process.stdout.write(`${String(row.lines).padStart(5)}  ${row.file}:${row.line}  ${row.name}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
