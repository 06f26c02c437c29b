import type { JsonRpcRequest, JsonRpcResponse } from '../gateway/jsonrpc.ts';
import type { ModernRefusal } from './envelope.ts';
import type { InputRequiredTranslator, ModernCaller } from './input-required.ts';
import type { RouterPort } from './router-port.ts';
import type { CallCancel } from './modern-call.ts';
import { checkParamHeaders, paramHeadersOf } from './param-headers.ts';
import type { HeaderBag } from './request-headers.ts';
import type { ToolSchemas } from './tool-schemas.ts';

/** What serveModern hands over: the translator the calls go through and the schemas learned. */
export interface ToolCallHeaderDeps {
  translator: InputRequiredTranslator;
  toolSchemas?: ToolSchemas | undefined;
}

/**
 * Mcp-Param-* headers of a modern tools/call against the tool's x-mcp-header declarations
 * (param-headers.ts). The schema comes from the learned list, fetched through the same router when not
 * known (each page carries the caller's envelope, as the caller's own tools/list would). A retry
 * (requestState) carries the same arguments and headers, so it is checked like the first round.
 */
export function toolCallHeaderRefusal(
  deps: ToolCallHeaderDeps,
  router: RouterPort,
  caller: ModernCaller,
  message: JsonRpcRequest,
  headers: HeaderBag,
  cancel?: CallCancel,
): ModernRefusal | null | Promise<ModernRefusal | null> {
  const tool = message.params?.name;
  if (message.method !== 'tools/call' || !deps.toolSchemas || typeof tool !== 'string') return null;
  // The usual case answers without a promise (the caller awaits only a Promise): the modern path's
  // cost per call is measured (bench/echo-eras.ts).
  const fresh = deps.toolSchemas.known(router, tool);
  if (fresh) return refusalFor(fresh.schema, message, headers);
  return fetchedRefusal(deps, deps.toolSchemas, router, caller, message, headers, tool, cancel);
}

async function fetchedRefusal(
  deps: ToolCallHeaderDeps,
  schemas: ToolSchemas,
  router: RouterPort,
  caller: ModernCaller,
  message: JsonRpcRequest,
  headers: HeaderBag,
  tool: string,
  cancel: CallCancel | undefined,
): Promise<ModernRefusal | null> {
  let page = 0;
  const schema = await schemas.schemaOf(router, tool, async (cursor) => {
    const list: JsonRpcRequest = {
      jsonrpc: '2.0',
      id: `harbor-tool-schemas-${page++}`,
      method: 'tools/list',
      params: { ...(cursor !== undefined ? { cursor } : {}), _meta: message.params?._meta },
    };
    const answer = await deps.translator.serve(router, caller, list, null, cancel);
    return answer.error ? null : answer.result;
  });
  return refusalFor(schema, message, headers);
}

function refusalFor(schema: unknown, message: JsonRpcRequest, headers: HeaderBag): ModernRefusal | null {
  const declarations = paramHeadersOf(schema);
  return declarations.length ? checkParamHeaders(declarations, message.params?.arguments, headers) : null;
}

/** A modern tools/list answer, learned for later calls (the whole list when it was one page). */
export function learnToolList(deps: ToolCallHeaderDeps, router: RouterPort, request: JsonRpcRequest, response: JsonRpcResponse): void {
  if (request.method !== 'tools/list' || response.error || !deps.toolSchemas) return;
  const nextCursor = (response.result as { nextCursor?: unknown } | undefined)?.nextCursor;
  deps.toolSchemas.learn(router, response.result, request.params?.cursor === undefined && (nextCursor === undefined || nextCursor === ''));
}
