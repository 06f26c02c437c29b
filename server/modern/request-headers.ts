import type { JsonRpcRequest } from '../gateway/jsonrpc.ts';
import type { ModernRefusal } from './envelope.ts';
import { META_KEYS, ModernErrorCode } from './protocol.ts';

/** Header values as Node gives them (names lower-cased); only the first of a repeated header counts. */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** Methods whose `Mcp-Name` header mirrors `params.name` or `params.uri` (transports/streamable-http). */
const NAMED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

const SENTINEL = /^=\?base64\?([^?]*)\?=$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 9110 field-value characters: visible ASCII, space and tab.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

function first(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : withoutOws(one);
}

/**
 * RFC 9110 section 5.5: optional whitespace around a value is not part of it. The regex runs only when
 * there is some (Node's parser already strips it around a header line): three headers per modern call.
 */
export function withoutOws(value: string): string {
  if (value === '') return value;
  const head = value.charCodeAt(0);
  const tail = value.charCodeAt(value.length - 1);
  const ows = (c: number) => c === 0x20 || c === 0x09;
  return ows(head) || ows(tail) ? value.replace(/^[\t ]+|[\t ]+$/g, '') : value;
}

/**
 * Decodes an `Mcp-Name` value: plain ASCII as is, or the `=?base64?…?=` sentinel form. Returns
 * undefined for a malformed value (bad characters, bad base64, or bytes that are not UTF-8).
 */
export function decodeHeaderValue(raw: string): string | undefined {
  if (!FIELD_VALUE.test(raw)) return undefined;
  const sentinel = SENTINEL.exec(raw);
  if (!sentinel) return raw;
  const encoded = sentinel[1]!;
  if (!BASE64.test(encoded)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
}

function mismatch(message: string): ModernRefusal {
  return { status: 400, code: ModernErrorCode.HeaderMismatch, message: `Header mismatch: ${message}` };
}

/**
 * The standard request headers of a modern POST must be present and agree with the body
 * (400 + -32020 otherwise). Runs after the envelope parsed, so the body's version is known.
 * Mcp-Param-* headers are checked later, against the tool's inputSchema (param-headers.ts).
 */
export function checkRequestHeaders(headers: HeaderBag, request: JsonRpcRequest): ModernRefusal | null {
  const bodyVersion = (request.params?._meta as Record<string, unknown> | undefined)?.[META_KEYS.protocolVersion];
  const version = first(headers, 'mcp-protocol-version');
  if (version === undefined) return mismatch('the MCP-Protocol-Version header is required');
  if (version !== bodyVersion) {
    return mismatch(`MCP-Protocol-Version header "${version.slice(0, 64)}" does not match _meta protocolVersion "${String(bodyVersion).slice(0, 64)}"`);
  }
  const method = first(headers, 'mcp-method');
  if (method === undefined) return mismatch('the Mcp-Method header is required');
  if (method !== request.method) {
    return mismatch(`Mcp-Method header "${method.slice(0, 100)}" does not match body method "${request.method.slice(0, 100)}"`);
  }
  const field = NAMED_METHODS[request.method];
  if (!field) return null;
  const rawName = first(headers, 'mcp-name');
  if (rawName === undefined) return mismatch(`the Mcp-Name header is required for ${request.method}`);
  const name = decodeHeaderValue(rawName);
  if (name === undefined) return mismatch('the Mcp-Name header is malformed (invalid characters or base64)');
  const bodyName = request.params?.[field];
  if (name !== bodyName) {
    return mismatch(`Mcp-Name header "${name.slice(0, 200)}" does not match body ${field} "${String(bodyName).slice(0, 200)}"`);
  }
  return null;
}
