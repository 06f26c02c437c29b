import { checkEcho, type McpHttpSession } from './mcp-http-session.ts';
import type { McpModernCaller } from './mcp-modern-caller.ts';

/** Either era's caller of the benches. */
export type EchoCaller = McpHttpSession | McpModernCaller;

/** `total` echo calls shared by the callers, each waiting for its answer before the next; `label` tags the messages. */
export async function callEcho(callers: EchoCaller[], label: string, total: number): Promise<void> {
  let left = total;
  await Promise.all(
    callers.map(async (caller, index) => {
      while (left-- > 0) {
        const message = `${label}-${index}-${left}`;
        checkEcho(await caller.callTool('echo', { message }), message);
      }
    }),
  );
}
