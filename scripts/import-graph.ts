/**
 * The project's import graph from the TypeScript AST: which file imports which (relative specifiers
 * resolved to files; packages kept by name), whether an import is erased at run time (`import type`,
 * `export type … from`), and the cycles. test/unit/import-graph.test.ts holds the layering rules.
 *
 *   node scripts/import-graph.ts            # cycles between files and between server/'s folders, or "no cycles"
 *
 * Parsing only, no type check: a tree with half-done edits still gives its graph.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { projectPath, sourceFiles } from './source-files.ts';

export interface ImportEdge {
  from: string;
  /** A project file (relative to the root, `/`-separated) or a package specifier such as `electron`. */
  to: string;
  /** False for a package. */
  local: boolean;
  /** Erased when types are stripped: nothing is loaded at run time. */
  typeOnly: boolean;
}

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every import and re-export of one file, static and dynamic (`import('…')`, `require('…')` in .cts). */
function importsOf(path: string): Array<{ specifier: string; typeOnly: boolean }> {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Array<{ specifier: string; typeOnly: boolean }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.importClause?.isTypeOnly ?? false });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0]!)) {
      const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const required = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if (dynamic || required) found.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The edges out of every source file under `folders` (relative to `root`). */
export function importGraph(folders: string[], root = PROJECT_ROOT): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const folder of folders) {
    for (const path of sourceFiles(join(root, folder))) {
      for (const { specifier, typeOnly } of importsOf(path)) {
        const local = specifier.startsWith('.');
        // Imports name the file with its extension (allowImportingTsExtensions); a built `.js` name maps back.
        const to = local ? projectPath(root, resolve(dirname(path), specifier.replace(/\.c?js$/, (ext) => (ext === '.cjs' ? '.cts' : '.ts')))) : specifier;
        edges.push({ from: projectPath(root, path), to, local, typeOnly });
      }
    }
  }
  return edges;
}

/** The strongly connected components with more than one member, or a self-import: each one is a cycle. */
export function cycles(edges: Array<{ from: string; to: string }>): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, new Set());
    if (!next.has(to)) next.set(to, new Set());
    next.get(from)!.add(to);
  }
  // Tarjan's algorithm, iterative so a deep chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; children: Iterator<string> }> = [];
    const enter = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, children: next.get(node)!.values() });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const child = frame.children.next();
      if (!child.done) {
        if (!index.has(child.value)) enter(child.value);
        else if (onStack.has(child.value)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child.value)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      if (component.length > 1 || next.get(frame.node)!.has(frame.node)) found.push(component.sort());
    }
  }
  return found;
}

/** A file's folder: `server/http/host-server.ts` → `server/http`. */
export const folderOf = (file: string): string => file.slice(0, file.lastIndexOf('/'));

/**
 * Cycles between server/'s folders. server/*.ts at the top (host.ts wires everything, logger.ts is used by
 * everything) is left out: it is both the composition root and the shared base, so counting it would
 * make every folder a loop.
 */
export function serverFolderCycles(edges: Array<{ from: string; to: string }>): string[][] {
  const folders = edges
    .map((e) => ({ from: folderOf(e.from), to: folderOf(e.to) }))
    .filter((e) => e.from.startsWith('server/') && e.to.startsWith('server/') && e.from !== e.to);
  return cycles(folders);
}

function main(): void {
  const local = importGraph(['server', 'main', 'renderer', 'scripts']).filter((e) => e.local);
  const fileCycles = cycles(local);
  const folderCycles = serverFolderCycles(local);
  for (const cycle of fileCycles) process.stdout.write(`file cycle: ${cycle.join(' ⇄ ')}\n`);
  for (const cycle of folderCycles) process.stdout.write(`folder cycle: ${cycle.join(' ⇄ ')}\n`);
  if (fileCycles.length + folderCycles.length === 0) process.stdout.write(`no cycles (${local.length} local imports)\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
