import { AdminClient } from '../core/admin-client.ts';
import { homePaths, UsageError } from './common.ts';

/** The running host's admin API for the sign-in commands; sign-in needs the host (approvals live in it). */
export async function signInAdmin(): Promise<AdminClient> {
  const paths = homePaths();
  const admin = await AdminClient.connect(paths.home);
  if (!admin) throw new UsageError(`Harbor is not running (HARBOR_HOME ${paths.home}). Start it first: harbor serve`);
  return admin;
}

/** An admin answer, with the one refusal a person can fix named plainly. */
export async function signInRequest<T>(admin: AdminClient, method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await admin.request<T>(method, path, body);
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes('"auth": "tokens"')) {
      throw new UsageError('sign-in is off. Set "auth": "both" in config.json (static tokens keep working) and restart Harbor');
    }
    throw new UsageError(message);
  }
}
