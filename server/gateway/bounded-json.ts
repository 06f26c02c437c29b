/**
 * JSON from untrusted peers (teammates' POST bodies, hosted servers' stdout lines), parsed with a
 * bound on nesting depth.
 *
 * Why by hand: V8's JSON.parse is iterative and accepts any depth, but everything after it that walks
 * the value — JSON.stringify, structuredClone, our own rewriting — recurses and throws
 * `RangeError: Maximum call stack size exceeded` somewhere far from the input. No JSON library on
 * npm bounds depth without also re-implementing the parser, so a linear pre-scan of brackets outside
 * strings (one pass, no allocation) refuses too-deep input before JSON.parse sees it. MCP messages
 * are shallow (the deepest real ones, JSON Schemas of tool inputs, stay far below the default).
 */
export const DEFAULT_MAX_JSON_DEPTH = 512;

export type BoundedParse = { ok: true; value: unknown } | { ok: false; reason: string; tooDeep: boolean };

/** The deepest nesting of arrays/objects in `text` (brackets inside strings don't count). Stops early past `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

/** JSON.parse that refuses nesting deeper than `maxDepth` with a reason instead of a value that crashes later. */
export function parseBoundedJson(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): BoundedParse {
  // JSON nested d deep holds d opening and d closing brackets: a text shorter than that cannot pass the
  // bound as JSON, and broken, JSON.parse refuses it (iteratively: no depth overflows it). So the scan,
  // a loop over every character of every POST body and upstream line, runs for longer texts only; the
  // cost: a short broken text of unclosed brackets is a parse error, not "nested deeper".
  if (text.length > 2 * maxDepth + 1 && jsonDepth(text, maxDepth) > maxDepth) {
    return { ok: false, tooDeep: true, reason: `JSON nested deeper than ${maxDepth} levels` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, tooDeep: false, reason: (error as Error).message };
  }
}

/**
 * The nesting depth of a value already in memory (a message that never was text, in process),
 * walked with an explicit stack so a deep value cannot overflow the call stack. Stops past `limit`.
 */
export function valueDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) {
      max = depth;
      if (max > limit) return max;
    }
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return max;
}
