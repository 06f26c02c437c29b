import type { ModernRefusal } from './envelope.ts';
import { ModernErrorCode } from './protocol.ts';
import { decodeHeaderValue, withoutOws, type HeaderBag } from './request-headers.ts';

/**
 * `Mcp-Param-{Name}` headers (2026-07-28 transports/streamable-http, "Custom headers", SEP-2243): a tool
 * marks arguments with `"x-mcp-header": "Name"` in its inputSchema and clients mirror their values into
 * headers, for proxies that route on them. A server that processes the body must check that every
 * argument the body carries has its header, equal after decoding; otherwise 400 with -32020. Harbor is
 * that server for its legacy upstreams, which never see the headers: it checks against the schema of
 * the tool as the upstream listed it.
 *
 * Written here rather than imported: the SDK v2 has the same rules in its core-internal package, which
 * exports none of them. Same semantics: an absent or null body value expects no header (a present one
 * is ignored); numbers compare numerically for integer/number declarations; a value that cannot be
 * mirrored (non-finite, unsafe integer, not a primitive) expects none. Harbor does not judge the tool
 * definition itself (declarations under items, oneOf, …, which the spec calls invalid, are not
 * looked for): that is the upstream's business, and refusing its calls for it would break the tool.
 */

export interface ParamHeader {
  /** Where the value sits in `arguments`: a chain of property names. */
  path: string[];
  /** The header's name after `Mcp-Param-`, as declared. */
  name: string;
  type: string | undefined;
}

// RFC 9110 token: a declaration that is not one names no header a client could send.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

// Per schema object: tools/list answers are kept by the router, so the same object comes back per call.
const declared = new WeakMap<object, ParamHeader[]>();

/** The `x-mcp-header` declarations of a tool's inputSchema, reached through `properties` only. */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  if (typeof inputSchema !== 'object' || inputSchema === null) return [];
  const known = declared.get(inputSchema);
  if (known) return known;
  const found: ParamHeader[] = [];
  const visit = (node: unknown, path: string[], depth: number): void => {
    if (typeof node !== 'object' || node === null || depth > 32) return;
    const schema = node as Record<string, unknown>;
    const name = schema['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && TOKEN.test(name)) {
      found.push({ path, name, type: typeof schema.type === 'string' ? schema.type : undefined });
    }
    const properties = schema.properties;
    if (typeof properties !== 'object' || properties === null) return;
    for (const [key, child] of Object.entries(properties)) visit(child, [...path, key], depth + 1);
  };
  visit(inputSchema, [], 0);
  declared.set(inputSchema, found);
  return found;
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The header form of a body value (transports: "Type conversion"); undefined: nothing to mirror. */
function mirrored(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value))) return String(value);
  return undefined;
}

function firstValue(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : withoutOws(one);
}

function mismatch(header: string, message: string): ModernRefusal {
  return { status: 400, code: ModernErrorCode.HeaderMismatch, message: `Header mismatch: ${message}`, data: { header } };
}

/** Null when every declared argument the body carries has its header, equal after decoding. */
export function checkParamHeaders(declarations: readonly ParamHeader[], args: unknown, headers: HeaderBag): ModernRefusal | null {
  for (const declaration of declarations) {
    const body = valueAt(args, declaration.path);
    const expected = body === null ? undefined : mirrored(body);
    if (expected === undefined) continue;
    const header = `Mcp-Param-${declaration.name}`;
    const raw = firstValue(headers, header.toLowerCase());
    const where = declaration.path.join('.');
    if (raw === undefined) return mismatch(header, `the ${header} header is required: the body carries ${where}`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) return mismatch(header, `the ${header} header is malformed (invalid characters or base64)`);
    const numeric = (declaration.type === 'integer' || declaration.type === 'number') && typeof body === 'number' && DECIMAL.test(decoded);
    if (numeric ? Number(decoded) !== body : decoded !== expected) {
      return mismatch(header, `${header} header "${decoded.slice(0, 200)}" does not match body ${where} "${expected.slice(0, 200)}"`);
    }
  }
  return null;
}
