import { randomUUID } from 'node:crypto';

/** Replica names usable as a session id prefix and an nginx upstream name. */
const REPLICA_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * A new session id. On a replica (HARBOR_REPLICA set, as the exported compose and k8s files do) the
 * id starts with the replica's name, `harbor-1.<uuid>`, so a load balancer can send every later
 * request of the session to the replica that holds it, by the id alone; `initialize` carries no id
 * and may go anywhere. The uuid keeps its 122 random bits: the prefix names, it does not guard.
 */
export function newSessionId(replica: string | undefined = process.env.HARBOR_REPLICA): string {
  const name = replica?.toLowerCase();
  return name && REPLICA_NAME.test(name) ? `${name}.${randomUUID()}` : randomUUID();
}
