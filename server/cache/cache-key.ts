import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so two argument objects that differ only in key order
 * (clients build them in any order) hash to the same cache key. Follows JSON.stringify otherwise:
 * `toJSON` is honoured, undefined/functions/symbols are dropped from objects and become null in arrays.
 * Non-finite numbers and bigints are refused rather than silently collapsed to null, which would make
 * different arguments share a key.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  if (out === undefined) throw new TypeError('canonicalJson: value is not JSON-serialisable');
  return out;
}

function encode(value: unknown, seen: Set<object>): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return encode((value as { toJSON: () => unknown }).toJSON(), seen);
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonicalJson: bigint is not JSON-serialisable');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const object = value as object;
  if (seen.has(object)) throw new TypeError('canonicalJson: circular structure');
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item) => encode(item, seen) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const encoded = encode((object as Record<string, unknown>)[key], seen);
      if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Key of a cached tool result: same server, tool and (canonical) arguments → same key. */
export function toolCacheKey(server: string, tool: string, args: unknown): string {
  return sha256Hex(canonicalJson({ server, tool, args: args ?? {} }));
}
