import { isId, isJsonObject, type JsonRpcRequest } from './jsonrpc.ts';

/**
 * Checks the types of the params the router itself reads before it forwards a client's request: the
 * progress token it rewrites, the tool name it books and caches by, the URI it counts subscriptions
 * by, the cursor of list methods. Anything else passes through for the upstream to judge, as the
 * gateway forwards rather than re-implements methods. Returns the -32602 message, or null.
 */
export function routedParamsProblem(request: JsonRpcRequest): string | null {
  const params = request.params ?? {};
  const meta = params._meta;
  if (meta !== undefined) {
    if (!isJsonObject(meta)) return 'params._meta must be an object';
    const token = meta.progressToken;
    if (token !== undefined && !isId(token)) return 'params._meta.progressToken must be a string or a number';
  }
  if (params.cursor !== undefined && typeof params.cursor !== 'string') return 'params.cursor must be a string';
  switch (request.method) {
    case 'tools/call':
      if (typeof params.name !== 'string') return 'params.name must be a string (the tool to call)';
      if (params.arguments !== undefined && !isJsonObject(params.arguments)) return 'params.arguments must be an object';
      return null;
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      if (typeof params.uri !== 'string') return `params.uri must be a string (the resource to ${request.method.slice('resources/'.length)})`;
      return null;
    default:
      return null;
  }
}
