/**
 * The browser dashboard's admin secret. It arrives in the URL fragment (`/app#secret=…`), which the
 * browser never sends to a server, moves to sessionStorage (this tab only, gone when it closes) and
 * leaves the address bar so it is not bookmarked or shared by accident.
 */
const KEY = 'harbor.adminSecret';

export function takeDashboardSecret(location: Location, history: History, storage: Storage): string | null {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromUrl = fragment.get('secret');
  if (fromUrl) {
    storage.setItem(KEY, fromUrl);
    history.replaceState(null, '', location.pathname + location.search);
    return fromUrl;
  }
  return storage.getItem(KEY);
}

export function forgetDashboardSecret(storage: Storage): void {
  storage.removeItem(KEY);
}
