import { parseArgs } from 'node:util';
import type { PendingApproval } from '../../server/oauth/sign-in-requests.ts';
import { date, printList, UsageError } from './common.ts';
import { signInAdmin, signInRequest } from './sign-in-admin.ts';

export const APPROVALS_HELP = `Usage: harbor approvals [--json]
       harbor approve <id>
       harbor deny <id>

Sign-in requests waiting for you: who asks (and whether you invited that name), from which client,
and until when the request waits (10 minutes after it was sent). Approve and their client gets its
tokens; deny and it is told so. Nobody signs in without your approval or your one-time code.
`;

function parse(args: string[]) {
  return parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
}

export async function approvals(args: string[]): Promise<void> {
  const { values } = parse(args);
  if (values.help) {
    process.stdout.write(APPROVALS_HELP);
    return;
  }
  const { approvals: pending } = await signInRequest<{ approvals: PendingApproval[] }>(await signInAdmin(), 'GET', '/admin/approvals');
  const printed = printList(pending, {
    json: values.json,
    empty: 'No sign-in requests are waiting.',
    header: ['ID', 'NAME', 'CLIENT', 'INVITED', 'ASKED', 'WAITS UNTIL'],
    row: (a) => [a.id, a.teammate, a.client, a.invited ? 'yes' : 'NO', date(a.requestedAt), date(a.expiresAt)],
  });
  if (printed === 'table') process.stdout.write(`\nharbor approve <id> lets them in; harbor deny <id> refuses.\n`);
}

/** `harbor approve <id>` and `harbor deny <id>`. */
export async function decide(args: string[], approve: boolean): Promise<void> {
  const { values, positionals } = parse(args);
  if (values.help) {
    process.stdout.write(APPROVALS_HELP);
    return;
  }
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError(`usage: harbor ${approve ? 'approve' : 'deny'} <id> (see harbor approvals)`);
  const { approval } = await signInRequest<{ approval: PendingApproval }>(await signInAdmin(), 'POST', `/admin/approvals/${encodeURIComponent(id)}/${approve ? 'approve' : 'deny'}`);
  process.stdout.write(approve ? `Approved: ${approval.teammate} can connect from ${approval.client}.\n` : `Denied: ${approval.teammate} (${approval.client}) was refused.\n`);
}
