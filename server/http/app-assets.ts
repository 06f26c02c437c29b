import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The renderer (the popover UI) as static files under `/app/`: the browser dashboard of a headless host and
 * the Electron popover both load it from here. `.ts` modules are served as JavaScript by stripping their
 * types (Node 24), so the UI runs from source with no build step; the result is cached per file.
 */

const HERE = fileURLToPath(new URL('../..', import.meta.url));
// From source this is the project root; built, it is dist/ (which may hold a compiled renderer/host-api.js,
// hence the test on index.html) and the renderer's sources sit beside it.
const ROOT = existsSync(join(HERE, 'renderer', 'index.html')) ? HERE : dirname(HERE);
const RENDERER_DIR = join(ROOT, 'renderer');

/** Third-party files the UI needs, by the path it asks for under /app/vendor/. */
const VENDOR: Record<string, string> = {
  'uplot.js': join(ROOT, 'node_modules/uplot/dist/uPlot.esm.js'),
  'uplot.css': join(ROOT, 'node_modules/uplot/dist/uPlot.min.css'),
};

export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export interface AppAsset {
  status: 200 | 404;
  contentType: string;
  body: Buffer;
}

const cache = new Map<string, Buffer>();
/** Files are few (the renderer folder); the bound only guards against a surprise. */
const MAX_CACHED = 200;

function notFound(): AppAsset {
  return { status: 404, contentType: 'text/plain; charset=utf-8', body: Buffer.from('Not found') };
}

/** Maps `/app/<rest>` to a file on disk, or null for anything outside the renderer folder and the vendor list. */
export function appAssetFile(path: string): string | null {
  if (path === '/app' || path === '/app/') return join(RENDERER_DIR, 'index.html');
  if (!path.startsWith('/app/')) return null;
  let rest: string;
  try {
    rest = decodeURIComponent(path.slice('/app/'.length));
  } catch {
    return null;
  }
  if (rest.includes('\0')) return null;
  if (rest.startsWith('vendor/')) return VENDOR[rest.slice('vendor/'.length)] ?? null;
  const file = normalize(join(RENDERER_DIR, rest));
  if (!file.startsWith(RENDERER_DIR + sep)) return null;
  // The renderer's own tsconfig and tests are not part of the UI.
  if (!(extname(file) in CONTENT_TYPES) || file.endsWith('.json')) return null;
  return file;
}

/**
 * Node 24's type stripping, without its one-time "ExperimentalWarning: stripTypeScriptTypes" on the
 * host's stderr (seen by every user who opens the dashboard). Only that warning is dropped, and only
 * during this call: every other warning passes. Chosen over pre-building the renderer at build time,
 * which would add a build step for the UI's few files and a second copy of them to keep in step; the
 * API's behaviour in 'strip' mode (erase types, keep positions) is what the UI relies on either way.
 */
function stripTypes(source: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && String(warning).includes('stripTypeScriptTypes')) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** The asset for a path under /app, with its content type; `.ts` comes back as JavaScript. */
export async function loadAppAsset(path: string): Promise<AppAsset> {
  const file = appAssetFile(path);
  if (!file) return notFound();
  const cached = cache.get(file);
  const contentType = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
  if (cached) return { status: 200, contentType, body: cached };
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return notFound();
  }
  if (file.endsWith('.ts')) body = Buffer.from(stripTypes(body.toString('utf8')));
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(file, body);
  return { status: 200, contentType, body };
}

/** `/app` and `/app/*`: the dashboard's files. */
export function isAppPath(path: string): boolean {
  return path === '/app' || path.startsWith('/app/');
}

/**
 * Answers GET/HEAD for `/app` and `/app/*`; returns false for any other path so the caller routes it on.
 * `/app` redirects to `/app/` so the page's relative URLs resolve (the `#secret=` fragment survives a redirect).
 */
export async function serveAppAsset(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  if (!isAppPath(path)) return false;
  const headers = {
    'Content-Security-Policy': APP_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Method not allowed');
    return true;
  }
  if (path === '/app') {
    res.writeHead(308, { ...headers, Location: '/app/' });
    res.end();
    return true;
  }
  const asset = await loadAppAsset(path);
  res.writeHead(asset.status, { ...headers, 'Content-Type': asset.contentType, 'Content-Length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}
