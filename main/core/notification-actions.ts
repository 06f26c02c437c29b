import type { HostApi } from '../../server/admin/host-api.ts';
import type { NotificationSpec } from './notification-rules.ts';

/**
 * What the buttons of a native notification do (issue 18.2): "alice wants to connect from <client>"
 * gets Approve / Deny where the OS shows buttons (Deny alone for someone not invited), and a click on
 * the notification opens the Team tab everywhere. The Electron shell (main/shell/main.ts) only shows the plan and hands events back here.
 *
 * Buttons on macOS and Windows: Electron 45 delivers a Windows toast's button presses as the same
 * 'action' event (it writes the toast XML itself), so no hand-made `toastXml` is needed. Linux
 * notification daemons vary in whether they show actions at all: there the click is the way in.
 */
export type NotificationChoice = 'approve' | 'deny' | 'open-team';

export interface NotificationPlan {
  /** Electron's NotificationAction list (index = the 'action' event's actionIndex). */
  actions: Array<{ type: 'button'; text: string }>;
  /** The choice behind each action, by index. */
  choices: NotificationChoice[];
  /** What a click on the notification itself does; null: nothing beyond the OS's own. */
  click: NotificationChoice | null;
}

const BUTTON_PLATFORMS: ReadonlySet<NodeJS.Platform> = new Set(['darwin', 'win32']);

export function notificationPlan(spec: Pick<NotificationSpec, 'kind' | 'approvalId' | 'signIn'>, platform: NodeJS.Platform): NotificationPlan {
  if (spec.kind !== 'wants-to-connect' || !spec.approvalId) return { actions: [], choices: [], click: null };
  if (!BUTTON_PLATFORMS.has(platform)) return { actions: [], choices: [], click: 'open-team' };
  // Someone not invited gets no one-press Approve: the name is whatever they typed, and the banner may
  // cut the body's "(not invited)" off after a long client name. Deny stays; approving is the Team tab's.
  if (spec.signIn?.invited !== true) return { actions: [{ type: 'button', text: 'Deny' }], choices: ['deny'], click: 'open-team' };
  return {
    actions: [
      { type: 'button', text: 'Approve' },
      { type: 'button', text: 'Deny' },
    ],
    choices: ['approve', 'deny'],
    click: 'open-team',
  };
}

/** The choice behind an 'action' event's index, or null for an index the plan never offered. */
export function choiceAt(plan: NotificationPlan, actionIndex: number): NotificationChoice | null {
  return plan.choices[actionIndex] ?? null;
}

export interface ChoiceDeps {
  /** The admin API of the running host (the shell's HomeConnection.currentApi, which throws while it starts). */
  api: () => Pick<HostApi, 'approve' | 'deny'>;
  openTeamTab: () => void;
}

export type ChoiceOutcome =
  | { done: 'approved' | 'denied'; teammate: string }
  | { done: 'opened-team' }
  /** The request was answered, expired, or the host could not be reached: the Team tab shows where it stands. */
  | { done: 'failed'; message: string };

/**
 * Carries out a choice for the sign-in request `approvalId`. A failed approve or deny (already answered
 * elsewhere: 404; the host gone) opens the Team tab, so the owner sees the request's state instead of
 * a button that silently did nothing.
 */
export async function performChoice(choice: NotificationChoice, approvalId: string, deps: ChoiceDeps): Promise<ChoiceOutcome> {
  if (choice === 'open-team') {
    deps.openTeamTab();
    return { done: 'opened-team' };
  }
  try {
    const api = deps.api();
    const decided = await (choice === 'approve' ? api.approve(approvalId) : api.deny(approvalId));
    return { done: choice === 'approve' ? 'approved' : 'denied', teammate: decided.approval.teammate };
  } catch (error) {
    deps.openTeamTab();
    return { done: 'failed', message: (error as Error).message };
  }
}
