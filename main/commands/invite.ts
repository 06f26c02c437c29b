import { parseArgs } from 'node:util';
import { date, UsageError } from './common.ts';
import { signInAdmin, signInRequest } from './sign-in-admin.ts';

export const INVITE_HELP = `Usage: harbor invite <name> [--code] [--json]

Invite a teammate to sign in with Harbor (config "auth": "both" or "oauth"). Prints the connection
URLs to send them: no secret in them. They add a URL to their MCP client; the client opens Harbor's
sign-in page, they enter their name, and you approve (harbor approvals, harbor approve <id>).

Options:
  --code   also make a one-time code (single use, expires with the invite after 7 days): entered on
           the sign-in page instead of the name, it lets them in without asking you again
  --json   {"invite":{"name","code"?,"expiresAt"},"urls":[...]}
`;

interface InviteAnswer {
  invite: { name: string; code?: string; expiresAt: number };
  urls: string[];
}

export async function invite(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { code: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(INVITE_HELP);
    return;
  }
  const name = positionals.join(' ').trim();
  if (!name) throw new UsageError('usage: harbor invite <name> [--code] [--json]');
  const answer = await signInRequest<InviteAnswer>(await signInAdmin(), 'POST', '/admin/invites', { name, code: values.code });
  if (values.json) {
    process.stdout.write(JSON.stringify(answer) + '\n');
    return;
  }
  const { invite: made, urls } = answer;
  process.stdout.write(`Invited ${made.name} (until ${date(made.expiresAt)}). Send them a connection URL (no secret in it):\n\n`);
  for (const url of urls) process.stdout.write(`  ${url}\n`);
  process.stdout.write(`\nThey add it to their MCP client as a server URL; signing in opens Harbor's page in their browser.\n`);
  if (made.code) process.stdout.write(`One-time code (single use, shown once): ${made.code}\nEntered instead of the name, it lets them in without asking you.\n`);
  else process.stdout.write(`They enter "${made.name}" there; you approve with: harbor approvals, then harbor approve <id>\n`);
}
