import { EventEmitter } from 'node:events';
import type { AdminEvent } from '../admin/admin-api.ts';

/** GET /admin/events: what the host tells its owner (servers added, alerts, health, share, sign-ins). */
export interface AdminEvents {
  publish(event: AdminEvent): void;
  subscribe(listener: (event: AdminEvent) => void): () => void;
}

export function adminEvents(): AdminEvents {
  const events = new EventEmitter<{ event: [AdminEvent] }>();
  return {
    publish: (event) => events.emit('event', event),
    subscribe: (listener) => {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
  };
}
