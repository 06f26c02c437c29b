import type { ServerResponse } from 'node:http';

/**
 * The pages a teammate's browser sees while signing in: plain HTML, inline styles, no script and no
 * external asset (the page is served through the tunnel to people who are not yet trusted).
 */

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; frame-ancestors 'none'; base-uri 'none'";

const STYLE = `body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:12vh auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0001}
h1{font-size:1.3rem;margin:0 0 .75rem}p{margin:.5rem 0}.muted{color:#5b6475;font-size:.9rem}
label{display:block;margin:1rem 0 .25rem;font-weight:600}input[type=text]{width:100%;box-sizing:border-box;padding:.55rem .6rem;border:1px solid #c8ccd4;border-radius:8px;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:8px;background:#1f6feb;color:#fff;font:inherit;font-weight:600;cursor:pointer}
code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}`;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string, refreshSeconds?: number): string {
  const refresh = refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">${refresh}<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CSP,
    'X-Frame-Options': 'DENY',
    // Not no-referrer: with it a browser sends `Origin: null` on the form post, which the Origin check refuses.
    'Referrer-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(html);
}

export interface SignInFormView {
  requestId: string;
  csrf: string;
  clientName: string;
  resource: string;
  error?: string;
}

export function signInForm(view: SignInFormView): string {
  const error = view.error ? `<p role="alert" style="color:#b42318">${escapeHtml(view.error)}</p>` : '';
  return page(
    'Sign in to Harbor',
    `<h1>Sign in to Harbor</h1>
<p><strong>${escapeHtml(view.clientName)}</strong> wants to connect to <code>${escapeHtml(view.resource)}</code> for you.</p>
<p class="muted">Enter the name the host invited you by, or the one-time code they gave you. The host approves each new sign-in.</p>
${error}<form method="post" action="/signin">
<input type="hidden" name="request" value="${escapeHtml(view.requestId)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrf)}">
<label for="name">Your name</label><input type="text" id="name" name="name" maxlength="64" autocomplete="name">
<label for="code">One-time code (optional)</label><input type="text" id="code" name="code" maxlength="64" autocomplete="one-time-code">
<button type="submit">Ask to connect</button>
</form>`,
  );
}

export function waitingPage(teammate: string, clientName: string, refreshSeconds: number, waitsMinutes: number): string {
  const every = refreshSeconds === 1 ? 'every second' : `every ${refreshSeconds} seconds`;
  return page(
    'Waiting for approval',
    `<h1>Waiting for the host</h1>
<p>The host has been asked to approve <strong>${escapeHtml(teammate)}</strong> connecting from <strong>${escapeHtml(clientName)}</strong>.</p>
<p class="muted">This page checks again ${every} and continues on its own once approved. The request waits ${waitsMinutes} minutes; after that, start again from your client.</p>`,
    refreshSeconds,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
