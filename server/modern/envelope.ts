import { z } from 'zod';
import type { JsonRpcRequest } from '../gateway/jsonrpc.ts';
import { META_KEYS, MODERN_PROTOCOL_VERSIONS, ModernErrorCode } from './protocol.ts';

/** What a modern request says about its caller, read from `params._meta`. */
export interface Envelope {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo: { name: string; version: string } | undefined;
  logLevel: string | undefined;
}

/** A refusal on the modern path: the HTTP status and the JSON-RPC error to send with it. */
export interface ModernRefusal {
  status: number;
  code: number;
  message: string;
  data?: unknown;
}

export type EnvelopeResult = { ok: true; envelope: Envelope } | { ok: false; refusal: ModernRefusal };

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

// zod rather than hand checks: the first issue's path names the offending key in the -32602 message.
const EnvelopeSchema = z.looseObject({
  [META_KEYS.protocolVersion]: z.string().min(1).max(64),
  [META_KEYS.clientCapabilities]: z.record(z.string(), z.unknown()),
  [META_KEYS.clientInfo]: z.looseObject({ name: z.string(), version: z.string() }).optional(),
  [META_KEYS.logLevel]: z.enum(LOG_LEVELS).optional(),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isModernVersion(version: unknown): boolean {
  return typeof version === 'string' && (MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** The body's claim to the per-request envelope: `params._meta` carries the protocol-version key. */
export function claimsEnvelope(message: { params?: Record<string, unknown> | undefined }): boolean {
  const meta = message.params?._meta;
  return isObject(meta) && META_KEYS.protocolVersion in meta;
}

/**
 * The era of one POSTed message, decided per request (basic/versioning, "dual-era server"): a body
 * claim, or a modern `MCP-Protocol-Version` header, makes it modern; a malformed claim is still
 * modern (and refused -32602 by parseEnvelope), never silently served as legacy. Everything else,
 * `initialize` included, is legacy.
 */
export function isModernMessage(message: { method?: unknown; params?: Record<string, unknown> | undefined }, protocolVersionHeader: string | undefined): boolean {
  if (claimsEnvelope(message)) return true;
  return protocolVersionHeader !== undefined && isModernVersion(protocolVersionHeader.trim());
}

/**
 * Reads and checks the shape of the envelope of a request classified modern (-32602). The version
 * itself is checked by checkVersion, after the header checks: a header that disagrees with the body
 * is a -32020 whatever the version says.
 */
export function parseEnvelope(request: Pick<JsonRpcRequest, 'params'>): EnvelopeResult {
  const meta = request.params?._meta;
  if (!isObject(meta)) {
    return invalid('params._meta is required and must carry the per-request envelope');
  }
  const envelope = wellFormedEnvelope(meta);
  if (envelope) return { ok: true, envelope };
  const parsed = EnvelopeSchema.safeParse(meta);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.') || '_meta';
    return invalid(`params._meta: ${key}: ${issue.message}`);
  }
  const version = parsed.data[META_KEYS.protocolVersion] as string;
  const info = parsed.data[META_KEYS.clientInfo] as { name: string; version: string } | undefined;
  return {
    ok: true,
    envelope: {
      protocolVersion: version,
      clientCapabilities: parsed.data[META_KEYS.clientCapabilities] as Record<string, unknown>,
      clientInfo: info ? { name: info.name, version: info.version } : undefined,
      logLevel: parsed.data[META_KEYS.logLevel] as string | undefined,
    },
  };
}

/**
 * The envelope when it is well formed by EnvelopeSchema's rules, else undefined (and zod then says
 * what is wrong). By hand because this runs on every modern request and a zod parse of it was
 * ~2.5 µs and ~1 KB of garbage per call (bench/echo-eras.ts); the schema stays the reference for
 * refusals, and a case these checks miss only falls through to it.
 */
function wellFormedEnvelope(meta: Record<string, unknown>): Envelope | undefined {
  const version = meta[META_KEYS.protocolVersion];
  const capabilities = meta[META_KEYS.clientCapabilities];
  const info = meta[META_KEYS.clientInfo];
  const logLevel = meta[META_KEYS.logLevel];
  if (typeof version !== 'string' || version.length < 1 || version.length > 64 || !isObject(capabilities)) return undefined;
  if (info !== undefined && !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')) return undefined;
  if (logLevel !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(logLevel)) return undefined;
  return {
    protocolVersion: version,
    clientCapabilities: capabilities,
    clientInfo: info ? { name: info.name as string, version: info.version as string } : undefined,
    logLevel: logLevel as string | undefined,
  };
}

/** A modern envelope naming a revision Harbor does not serve statelessly: 400 + -32022. */
export function checkVersion(envelope: Envelope, supportedVersions: readonly string[]): ModernRefusal | null {
  return isModernVersion(envelope.protocolVersion) ? null : unsupportedVersion(envelope.protocolVersion, supportedVersions);
}

/** 400 + -32022 listing every version Harbor speaks (modern and legacy), per basic/versioning. */
export function unsupportedVersion(requested: string, supportedVersions: readonly string[]): ModernRefusal {
  return {
    status: 400,
    code: ModernErrorCode.UnsupportedProtocolVersion,
    message: `Unsupported protocol version: ${requested.slice(0, 64)}`,
    data: { supported: [...supportedVersions], requested: requested.slice(0, 64) },
  };
}

function invalid(message: string): EnvelopeResult {
  return { ok: false, refusal: { status: 400, code: ModernErrorCode.InvalidParams, message: `Invalid params: ${message}` } };
}
