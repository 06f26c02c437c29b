/**
 * Facts of the 2026-07-28 ("modern") MCP revision that Harbor's modern modules share: versions, the
 * `_meta` keys of the per-request envelope, and the error codes the revision reserves. See
 * /work/notes/modern-protocol.md for where each comes from in the spec.
 */

/** Modern revisions Harbor serves statelessly, newest first. */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

export const META_KEYS = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** Envelope keys a legacy upstream never needs to see. */
export const ENVELOPE_KEYS: readonly string[] = [
  META_KEYS.protocolVersion,
  META_KEYS.clientCapabilities,
  META_KEYS.clientInfo,
  META_KEYS.logLevel,
];

export const ModernErrorCode = {
  InvalidParams: -32602,
  MethodNotFound: -32601,
  /** HTTP headers disagree with the body, or a required one is missing or malformed. */
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

/** Methods whose complete results carry `ttlMs` and `cacheScope` (server/utilities/caching). */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set([
  'server/discover',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);

/** The only requests that may be answered `input_required` (basic/patterns/mrtr, "Supported Requests"). */
export const INPUT_REQUIRED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** Server→client requests a legacy upstream may send, and the client capability each needs. */
export const INPUT_REQUEST_CAPABILITY: Readonly<Record<string, 'sampling' | 'elicitation' | 'roots'>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** 2025-era methods the modern revision removed: answered 404 + -32601 on the modern path. */
export const REMOVED_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
]);
