import type { AdminDeps } from '../admin/admin-api.ts';
import { AdminInputError, AdminStatusError } from '../admin/admin-api.ts';
import { StdioServerSchema } from '../config/config-schema.ts';
import { editConfig } from '../config/edit-config.ts';
import { describeIssues } from '../config/load-config.ts';
import type { HostedServer, HostedServerStatus } from '../gateway/hosted-server.ts';
import { DOCS_SERVER_NAME, isServerName, SERVER_NAME_RULE } from '../gateway/server-name.ts';
import type { AdminEvents } from './admin-events.ts';
import type { DocsPart } from './docs-part.ts';
import { removeHosted, type Sessions, type StdioServers } from './hosted-servers.ts';

/**
 * The owner's edits of what is hosted (POST/DELETE /admin/servers, restart, the docs folder): each
 * checked, written to config.json, applied live and announced.
 */
export function serverAdmin(parts: {
  configFile: string;
  /** With no file yet, the built-in docs server was a default: kept when the first edit creates the file. */
  initialConfig: Record<string, unknown>;
  servers: Map<string, HostedServer>;
  stdio: StdioServers;
  docs: DocsPart;
  events: AdminEvents;
}): (sessions: Sessions) => NonNullable<AdminDeps['manage']> {
  const { configFile, initialConfig, servers, events } = parts;
  const edit = (change: (json: Record<string, unknown>) => void) => editConfig(configFile, change, initialConfig);
  return (sessions) => ({
    add: async (body) => {
      const name = typeof body.name === 'string' ? body.name : '';
      if (!isServerName(name) || name === DOCS_SERVER_NAME) throw new AdminInputError(`name: ${SERVER_NAME_RULE}, and not "${DOCS_SERVER_NAME}"`);
      if (servers.has(name)) throw new AdminInputError(`a server named "${name}" exists already`);
      const { name: _drop, ...raw } = body;
      const parsed = StdioServerSchema.safeParse(raw);
      if (!parsed.success) throw new AdminInputError(describeIssues(parsed.error).join('; '));
      edit((json) => {
        const mcpServers = (json.mcpServers ?? {}) as Record<string, unknown>;
        mcpServers[name] = raw;
        json.mcpServers = mcpServers;
      });
      const hosted = parts.stdio.add(name, parsed.data);
      events.publish({ type: 'server', action: 'added', name });
      return hosted.status();
    },
    remove: async (name) => {
      if (name === DOCS_SERVER_NAME) throw new AdminInputError('the built-in docs server is turned off by removing "docs" from config.json');
      const removed = await removeHosted(servers, name, sessions);
      if (removed) {
        edit((json) => {
          delete (json.mcpServers as Record<string, unknown> | undefined)?.[name];
        });
        events.publish({ type: 'server', action: 'removed', name });
      }
      return removed;
    },
    restart: async (name, copy) => {
      const hosted = servers.get(name);
      // 404 as for GET /admin/logs?process=<name> and DELETE: the name names nothing (not a malformed request).
      if (!hosted) throw new AdminStatusError(`no server named "${name}"`, 404);
      const problem = copy === undefined ? null : hosted.copyProblem(copy);
      if (problem) throw new AdminStatusError(problem, 404);
      await hosted.restart(copy === undefined ? 'restarted by the user' : `copy ${copy} restarted by the user`, copy);
      return hosted.status() satisfies HostedServerStatus;
    },
    setDocsFolder: async (folder) => {
      edit((json) => {
        json.docs = { ...(json.docs as object | undefined), folder };
      });
      return parts.docs.moveTo(folder, sessions);
    },
  });
}
