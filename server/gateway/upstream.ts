import type { LogLine } from '../supervision/rotating-log.ts';
import type { SupervisorInfo } from '../supervision/supervisor.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import type { UnreadableLine } from './upstream-line.ts';

/**
 * One running MCP server the gateway talks to: a stdio child or an in-process server. The transport
 * layer below this interface may restart; the router re-initialises on `onUp`.
 */
export interface Upstream {
  readonly name: string;
  /** Starts the process (or server); resolves once it can take messages. */
  start(): Promise<void>;
  /**
   * Never throws: a message that cannot be written (e.g. nested too deep to serialise) is refused
   * with the reason, so the caller fails that one call and nothing else.
   */
  send(message: JsonRpcMessage): string | undefined;
  /** Stops for good; no restart follows. */
  close(): Promise<void>;
  /** True while messages can be sent. */
  readonly up: boolean;
  /** Only well-formed JSON-RPC messages, nested at most DEFAULT_MAX_JSON_DEPTH deep. */
  onMessage: (message: JsonRpcMessage) => void;
  /** A line that was refused (logged and dropped below); it may have been the answer to a call. */
  onUnreadable: (line: UnreadableLine) => void;
  /**
   * The upstream went away; in-flight calls will never be answered. `planned` is a restart Harbor
   * chose (memory watchdog, user), not a crash: retry-safe calls may then be replayed.
   */
  onDown: (reason: string, planned: boolean) => void;
  /** The upstream (re)started and needs a fresh initialize. */
  onUp: () => void;
  /** Process id, for status and the memory watchdog; undefined in process. */
  readonly pid?: number | undefined;
  /** The supervised process behind it, for status; absent in process. */
  info?(): SupervisorInfo;
  /** The last lines the process wrote (its rotated log); absent in process (no process, no log). */
  logTail?(lines: number): LogLine[];
  /** A planned restart of the process (the user, a frozen server); absent in process. */
  restart?(reason: string): Promise<void>;
}
