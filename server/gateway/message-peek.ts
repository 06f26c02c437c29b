/**
 * A cheap look at an upstream line Harbor will not parse (nested too deep, over the line limit, or
 * not a valid message): enough to tell whether it answers a call and which one, so that caller gets
 * an error at once instead of waiting for the request timeout.
 *
 * Why a hand scan rather than a parser: the line is exactly what a parser must not be given (too
 * deep, too big, or cut off after its first bytes). The scan walks the top-level object's keys only,
 * skipping each value by counting brackets outside strings: one pass, no recursion, no allocation
 * beyond the key strings.
 */
export interface Peek {
  /** The top-level `"id"`, when it is a number or a string and was within the text seen. */
  id: number | string | undefined;
  /** A top-level `"id"` was seen whole, whether or not it is a valid id (an object id answers no call). */
  idSeen: boolean;
  /** A top-level `"result"` or `"error"` key was seen: the line is a response. */
  response: boolean;
  /** A top-level `"method"` key was seen: a request or a notification, which answers no call. */
  method: boolean;
}

/** Scans the top-level keys of a JSON object in `text`, which may be cut off anywhere. */
export function peekTopLevel(text: string): Peek {
  const peek: Peek = { id: undefined, idSeen: false, response: false, method: false };
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return peek;
  i++;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] !== '"') return peek;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return peek;
    const key = text.slice(i + 1, keyEnd);
    i = skipSpace(text, keyEnd + 1);
    if (text[i] !== ':') return peek;
    i = skipSpace(text, i + 1);
    const valueEnd = skipValue(text, i);
    if (key === 'id' && valueEnd >= 0) {
      peek.idSeen = true;
      peek.id = primitiveId(text.slice(i, valueEnd));
    }
    else if (key === 'result' || key === 'error') peek.response = true;
    else if (key === 'method') peek.method = true;
    if (valueEnd < 0) return peek;
    i = skipSpace(text, valueEnd);
    if (text[i] !== ',') return peek;
    i++;
  }
}

/**
 * The id of a line that ends `"id": <number>}`: the TypeScript SDK writes a response's id last. One
 * closing brace means the key is at the top level (a nested object would end with two or more).
 */
export function trailingId(tail: string): number | undefined {
  const match = /"id"\s*:\s*(-?\d+)\s*\}\s*$/.exec(tail);
  return match ? Number(match[1]) : undefined;
}

function primitiveId(raw: string): number | string | undefined {
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith('"')) {
    try {
      return JSON.parse(raw) as string;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** Index of the closing quote of the string opening at `i`, or -1 if the text ends first. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22 /* " */) return j;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`, or -1 if the text ends first. */
function skipValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') {
    const end = stringEnd(text, i);
    return end < 0 ? -1 : end + 1;
  }
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === 0x22) {
        j = stringEnd(text, j);
        if (j < 0) return -1;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < text.length && !/[\s,}\]]/.test(text[j]!)) j++;
  return j < text.length ? j : -1;
}
