import { h } from './dom.ts';

/**
 * Asks before a destructive action, in a modal <dialog> (focus moves in and back, Escape cancels),
 * the default button being the safe one. Resolves true only when the user confirms.
 */
export function confirmAction(message: string, confirmLabel: string): Promise<boolean> {
  const opener = document.activeElement as HTMLElement | null;
  const cancel = h('button', { type: 'button', value: 'cancel', autofocus: true }, 'Cancel');
  const ok = h('button', { type: 'button', value: 'confirm', class: 'danger' }, confirmLabel);
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-text' },
    h('p', { id: 'confirm-text' }, message),
    h('div', { class: 'row' }, cancel, ok),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    let confirmed = false;
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      confirmed = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      opener?.focus();
      resolve(confirmed);
    });
    dialog.showModal();
  });
}
