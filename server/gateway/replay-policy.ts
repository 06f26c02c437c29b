import { isJsonObject } from './jsonrpc.ts';

/** Methods that only read: replaying one after a planned restart changes nothing. */
const RETRY_SAFE_METHODS = new Set([
  'tools/list',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'prompts/list',
  'prompts/get',
  'completion/complete',
]);

type ToolDescriptions = { tools?: Array<{ name?: unknown; annotations?: { readOnlyHint?: unknown; idempotentHint?: unknown } }> };

/**
 * Which calls may run twice: reads, and calls of tools whose annotations (learned from the last
 * `tools/list` that passed through) say `readOnlyHint` or `idempotentHint`. A planned restart
 * (memory watchdog, user) replays such calls in flight instead of failing them; a crash replays
 * nothing, as the call may be what crashed it. The pool retries the same tools on another copy.
 * Trade-off: the annotations are the server's word, not proof; a tool that lies about them runs twice.
 */
export class ReplayPolicy {
  readonly #retrySafeTools = new Set<string>();

  /** Learns the tools' annotations from a `tools/list` result (anything else is ignored). */
  learn(toolsListResult: unknown): void {
    const tools = (toolsListResult as ToolDescriptions | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      if (!isJsonObject(tool) || typeof tool.name !== 'string') continue;
      if (tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true) this.#retrySafeTools.add(tool.name);
      else this.#retrySafeTools.delete(tool.name);
    }
  }

  retrySafeTool(tool: string): boolean {
    return this.#retrySafeTools.has(tool);
  }

  retrySafe(method: string, tool: string | undefined): boolean {
    if (method === 'tools/call') return tool !== undefined && this.#retrySafeTools.has(tool);
    return RETRY_SAFE_METHODS.has(method);
  }

  /** Whether a call in flight when the upstream went down runs again: after a planned restart, once, if it is safe to. */
  replays(call: { method: string; tool: string | undefined; replayed: boolean }, planned: boolean): boolean {
    return planned && !call.replayed && this.retrySafe(call.method, call.tool);
  }
}
