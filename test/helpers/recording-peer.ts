import type { ClientCapabilities, ClientPeer } from '../../server/gateway/client-peer.ts';
import type { JsonRpcId, JsonRpcMessage } from '../../server/gateway/jsonrpc.ts';

export interface RecordingPeer extends ClientPeer {
  /** Every message delivered, with the client request id it was related to. */
  readonly received: Array<{ message: JsonRpcMessage; relatedId: JsonRpcId | undefined }>;
  /** Capabilities the upstream asked for that this peer lacks, as `capability method`. */
  readonly missing: string[];
}

/** A client session as the router sees one, recording what reaches it. */
export function recordingPeer(id: string, capabilities: ClientCapabilities = {}): RecordingPeer {
  const received: RecordingPeer['received'] = [];
  const missing: string[] = [];
  return {
    id,
    teammate: id,
    capabilities,
    received,
    missing,
    deliver: (message, relatedId) => void received.push({ message, relatedId }),
    missingCapability: (capability, method) => void missing.push(`${capability} ${method}`),
  };
}

/** A Schedule (server/gateway/unref-timer.ts) driven by hand: `fire()` runs the timers not cancelled (or the one at `index`), once each. */
export function manualSchedule() {
  const timers: Array<{ run: () => void; ms: number; cancelled: boolean }> = [];
  const schedule = (run: () => void, ms: number) => {
    const timer = { run, ms, cancelled: false };
    timers.push(timer);
    return () => void (timer.cancelled = true);
  };
  const live = () => timers.filter((t) => !t.cancelled);
  const fire = (index?: number) => (index === undefined ? live() : [timers[index]!]).forEach((t) => ((t.cancelled = true), t.run()));
  return { schedule, timers, live, fire };
}
