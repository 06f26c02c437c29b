import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ClientCapabilities, ClientPeer } from '../gateway/client-peer.ts';
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification } from '../gateway/jsonrpc.ts';
import type { RouterPort } from './router-port.ts';
import { META_KEYS } from './protocol.ts';

/** What a subscriptions/listen caller opts in to (basic/patterns/subscriptions, "Notification Filter"). */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const FilterSchema = z.looseObject({
  toolsListChanged: z.boolean().optional(),
  promptsListChanged: z.boolean().optional(),
  resourcesListChanged: z.boolean().optional(),
  resourceSubscriptions: z.array(z.string().max(8192)).max(1000).optional(),
});

/** Reads `params.notifications`; a malformed filter is the caller's error (-32602). */
export function parseFilter(params: Record<string, unknown> | undefined): { ok: true; filter: SubscriptionFilter } | { ok: false; message: string } {
  const parsed = FilterSchema.safeParse(params?.notifications ?? {});
  if (!parsed.success) return { ok: false, message: `Invalid params: notifications: ${parsed.error.issues[0]!.message}` };
  const { toolsListChanged, promptsListChanged, resourcesListChanged, resourceSubscriptions } = parsed.data;
  const filter: SubscriptionFilter = {};
  if (toolsListChanged !== undefined) filter.toolsListChanged = toolsListChanged;
  if (promptsListChanged !== undefined) filter.promptsListChanged = promptsListChanged;
  if (resourcesListChanged !== undefined) filter.resourcesListChanged = resourcesListChanged;
  if (resourceSubscriptions !== undefined) filter.resourceSubscriptions = [...new Set(resourceSubscriptions)];
  return { ok: true, filter };
}

function flag(capabilities: Record<string, unknown>, area: string, name: string): boolean {
  const value = capabilities[area];
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[name] === true;
}

/** The part of a filter the upstream can honour, judged from its initialize capabilities. */
export function honouredFilter(filter: SubscriptionFilter, upstreamCapabilities: Record<string, unknown>): SubscriptionFilter {
  const honoured: SubscriptionFilter = {};
  if (filter.toolsListChanged && flag(upstreamCapabilities, 'tools', 'listChanged')) honoured.toolsListChanged = true;
  if (filter.promptsListChanged && flag(upstreamCapabilities, 'prompts', 'listChanged')) honoured.promptsListChanged = true;
  if (filter.resourcesListChanged && flag(upstreamCapabilities, 'resources', 'listChanged')) honoured.resourcesListChanged = true;
  if (filter.resourceSubscriptions?.length && flag(upstreamCapabilities, 'resources', 'subscribe')) {
    honoured.resourceSubscriptions = filter.resourceSubscriptions;
  }
  return honoured;
}

const LIST_CHANGED: Readonly<Record<string, keyof SubscriptionFilter>> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

/**
 * One subscriptions/listen stream, bridged from a legacy upstream: attached to the upstream router as
 * a peer, it receives the `list_changed` notifications the router sends every session and the
 * `resources/updated` of the URIs it subscribed to (the router subscribes upstream and releases the
 * URI on detach), and writes the opted-in ones, tagged with the subscription id, to the stream. The
 * acknowledgement is always the first message. Server→client requests never reach it: its
 * capabilities are empty, so the router refuses them.
 */
export class ListenBridge implements ClientPeer {
  readonly id = `listen-${randomUUID()}`;
  readonly teammate: string;
  capabilities: ClientCapabilities = {};
  readonly subscriptionId: JsonRpcId;
  readonly filter: SubscriptionFilter;
  readonly #router: RouterPort;
  readonly #write: (message: JsonRpcMessage) => void;
  readonly #uris: Set<string>;
  #open = false;

  constructor(options: {
    teammate: string;
    subscriptionId: JsonRpcId;
    /** Already cut down to what the upstream honours (honouredFilter). */
    filter: SubscriptionFilter;
    router: RouterPort;
    write: (message: JsonRpcMessage) => void;
  }) {
    this.teammate = options.teammate;
    this.subscriptionId = options.subscriptionId;
    this.filter = options.filter;
    this.#router = options.router;
    this.#write = options.write;
    this.#uris = new Set(options.filter.resourceSubscriptions ?? []);
  }

  /** Acknowledges, then subscribes upstream. */
  open(): void {
    if (this.#open) return;
    this.#open = true;
    this.#write({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: this.#tag(), notifications: this.filter } });
    this.#router.attach(this);
    let n = 0;
    for (const uri of this.#uris) {
      this.#router.fromClient(this, { jsonrpc: '2.0', id: `${this.id}-subscribe-${n++}`, method: 'resources/subscribe', params: { uri } });
    }
  }

  /** Ends the subscription; `graceful` (Harbor chose to end it) sends the closing response first. */
  close(graceful: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    this.#router.detach(this);
    if (graceful) this.#write({ jsonrpc: '2.0', id: this.subscriptionId, result: { resultType: 'complete', _meta: this.#tag() } });
  }

  deliver(message: JsonRpcMessage): void {
    if (!this.#open || isResponse(message) || isRequest(message)) return;
    const notification = message as JsonRpcNotification;
    if (!this.#wants(notification)) return;
    const meta = (notification.params?._meta as Record<string, unknown> | undefined) ?? {};
    this.#write({ ...notification, params: { ...notification.params, _meta: { ...meta, ...this.#tag() } } });
  }

  #wants(notification: JsonRpcNotification): boolean {
    const key = LIST_CHANGED[notification.method];
    if (key) return this.filter[key] === true;
    if (notification.method === 'notifications/resources/updated') return this.#uris.has(String(notification.params?.uri));
    return false; // progress and logs are request-scoped; never on a listen stream
  }

  #tag(): Record<string, unknown> {
    return { [META_KEYS.subscriptionId]: this.subscriptionId };
  }
}
