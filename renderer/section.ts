import type { HostApi, HostStatus } from './host-api.ts';

/** One tab of the popover. `refresh` runs when the tab is shown and on every poll while it stays shown. */
export interface Section {
  id: string;
  label: string;
  panel: HTMLElement;
  refresh(status: HostStatus | null): Promise<void>;
}

export interface SectionContext {
  api: HostApi;
  /** A short message for the polite live region ("Copied", "Server restarted"). */
  announce(message: string): void;
}

/** Copies text and says so; the Clipboard API needs a secure context (loopback http counts) and focus. */
export async function copyText(context: SectionContext, text: string, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    context.announce(`${what} copied`);
  } catch (error) {
    context.announce(`Could not copy: ${(error as Error).message}`);
  }
}
