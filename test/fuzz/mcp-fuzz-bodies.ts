/**
 * Seeded generator of hostile MCP POST bodies: the common methods with a wrong type in one params
 * field (or in all), nesting far past the parser's depth bound, broken envelopes and batch shapes.
 * Everything derives from the `random` passed in, so a failing body replays from its seed and index.
 */

export type Random = () => number;

export interface FuzzBody {
  /** What was generated, for failure messages. */
  kind: string;
  text: string;
  /** The id of the one request in the body whose answer a legacy stream must carry, if any. */
  answerId?: number;
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"k":'.repeat(depth) + '0' + '}'.repeat(depth);

/** Values of every JSON type, odd sizes included; as JSON text so depth can exceed what JS builds cheaply. */
const WRONG_VALUES = [
  'null', 'true', 'false', '0', '-1', '1.5', '1e308', '-0', '""', '"x"', `"${'a'.repeat(10_000)}"`, '"\\u0000"', '"\\ud800"',
  '[]', '[1,"2",null]', '{}', '{"a":{}}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{}}}',
  deepArray(50), deepObject(50),
];
const DEPTHS = [100, 511, 513, 5000, 100_000];

// Tools of server-everything that answer at once without asking the client anything.
const TOOL_NAMES = ['echo', 'get-sum', 'get-tiny-image', 'get-annotated-message', 'get-structured-content', 'no-such-tool', ''];
const URIS = ['demo://resource/static/document/architecture.md', 'demo://resource/dynamic/text/1', 'file:///etc/passwd', 'demo://nope', ''];
const PROMPTS = ['simple-prompt', 'args-prompt', 'completable-prompt', 'no-such-prompt'];

/** Each common method with its well-formed params (as JSON fragments), the fields the fuzzer corrupts. */
const METHODS: Record<string, (random: Random) => Record<string, string>> = {
  'tools/call': (r) => ({ name: JSON.stringify(pick(r, TOOL_NAMES)), arguments: pick(r, ['{"message":"hi"}', '{"a":1,"b":2}', '{}']), _meta: '{"progressToken":"p1"}' }),
  'tools/list': () => ({ cursor: '"c"' }),
  'resources/read': (r) => ({ uri: JSON.stringify(pick(r, URIS)) }),
  'resources/subscribe': (r) => ({ uri: JSON.stringify(pick(r, URIS)) }),
  'resources/unsubscribe': (r) => ({ uri: JSON.stringify(pick(r, URIS)) }),
  'resources/list': () => ({ cursor: '"c"' }),
  'resources/templates/list': () => ({}),
  'prompts/get': (r) => ({ name: JSON.stringify(pick(r, PROMPTS)), arguments: '{"city":"Paris"}' }),
  'prompts/list': () => ({}),
  'completion/complete': () => ({ ref: '{"type":"ref/prompt","name":"completable-prompt"}', argument: '{"name":"department","value":"E"}', context: '{"arguments":{}}' }),
  'logging/setLevel': (r) => ({ level: JSON.stringify(pick(r, ['debug', 'info', 'emergency', 'loud'])) }),
  ping: () => ({}),
  initialize: () => ({ protocolVersion: '"2025-11-25"', capabilities: '{}', clientInfo: '{"name":"again","version":"1"}' }),
  'notifications/cancelled': () => ({ requestId: '"never-sent"', reason: '"fuzz"' }),
  'notifications/progress': () => ({ progressToken: '"p1"', progress: '1', total: '2' }),
  'notifications/roots/list_changed': () => ({}),
};
const METHOD_NAMES = Object.keys(METHODS);

function paramsText(fields: Record<string, string>): string {
  return `{${Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** One message as text; `id` is a request id, or undefined for notifications. */
function message(random: Random, id: number): { text: string; kind: string; isRequest: boolean } {
  const method = pick(random, METHOD_NAMES);
  const isRequest = !method.startsWith('notifications/');
  const fields = METHODS[method]!(random);
  const names = Object.keys(fields);
  let kind = method;
  const roll = random();
  if (roll < 0.45 && names.length > 0) {
    const field = pick(random, names);
    fields[field] = pick(random, WRONG_VALUES);
    kind += ` ${field}=wrong`;
  } else if (roll < 0.6) {
    for (const field of names) fields[field] = pick(random, WRONG_VALUES);
    fields[pick(random, ['name', 'uri', 'extra'])] = pick(random, WRONG_VALUES);
    kind += ' all=wrong';
  } else if (roll < 0.75) {
    const depth = pick(random, DEPTHS);
    fields[names.length > 0 ? pick(random, names) : 'deep'] = random() < 0.5 ? deepArray(depth) : deepObject(depth);
    kind += ` deep=${depth}`;
  }
  let params = paramsText(fields);
  if (random() < 0.08) {
    params = pick(random, WRONG_VALUES); // params itself of the wrong type
    kind += ' params=wrong';
  }
  const envelope = [`"jsonrpc":"2.0"`, `"method":${JSON.stringify(method)}`, `"params":${params}`];
  if (isRequest) envelope.push(`"id":${id}`);
  return { text: `{${envelope.join(',')}}`, kind, isRequest };
}

const BROKEN = [
  '', ' ', 'null', '42', '"s"', 'true', '{}', '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","method":5,"id":1}', '{"jsonrpc":"1.0","method":"ping","id":1}',
  '{"jsonrpc":"2.0","method":"ping","id":{}}', '{"jsonrpc":"2.0","method":"ping","id":[1]}', '{"jsonrpc":"2.0","method":"ping","id":null}',
  '{"jsonrpc":"2.0","method":"","id":1}', '{"jsonrpc":"2.0","id":1,"result":{}}', '{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}',
  '{"jsonrpc":"2.0","method":"ping","id":1', '\u0000', '{"jsonrpc":"2.0","method":"ping","id":1}garbage', '\ufeff{"jsonrpc":"2.0","method":"ping","id":1}',
];

/** The `i`-th body of a run: one message, a broken envelope, or a batch of some shape. */
export function fuzzBody(random: Random, i: number): FuzzBody {
  const roll = random();
  const id = 1000 + i;
  if (roll < 0.55) {
    const m = message(random, id);
    return { kind: m.kind, text: m.text, ...(m.isRequest && !m.kind.includes('wrong') && !m.kind.includes('deep') && !m.kind.startsWith('initialize') ? { answerId: id } : {}) };
  }
  if (roll < 0.7) return { kind: 'broken envelope', text: pick(random, BROKEN) };
  if (roll < 0.8) return { kind: `deep top level`, text: random() < 0.5 ? deepArray(pick(random, DEPTHS)) : deepObject(pick(random, DEPTHS)) };
  const shape = pick(random, ['empty', 'small', 'mixed', 'max', 'over max', 'junk members', 'nested batch']);
  const members = (n: number) => Array.from({ length: n }, (_, k) => message(random, id * 1000 + k).text);
  const text =
    shape === 'empty' ? '[]'
    : shape === 'small' ? `[${members(1 + Math.floor(random() * 3)).join(',')}]`
    : shape === 'mixed' ? `[${[...members(2), pick(random, BROKEN) || 'null'].join(',')}]`
    : shape === 'max' ? `[${members(100).join(',')}]`
    : shape === 'over max' ? `[${members(101).join(',')}]`
    : shape === 'junk members' ? '[1,"x",null,[],{}]'
    : `[[${members(2).join(',')}]]`;
  return { kind: `batch ${shape}`, text };
}
