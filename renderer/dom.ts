/** Builds DOM nodes from plain data; text always goes in as text, never as HTML. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A short message for a list or panel with nothing to show. */
export function emptyState(message: string): HTMLElement {
  return h('p', { class: 'empty' }, message);
}

/** An error line, announced to screen readers. */
export function errorLine(message: string): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, message);
}

/**
 * The sections' data table: a caption for screen readers, column headers, and the rows given. Each
 * cell is labelled with its column (data-label): on a narrow window the stylesheet turns rows into
 * cards of "label value" lines instead of a table that overflows.
 */
export function gridTable(caption: string, columns: readonly string[], rows: readonly HTMLTableRowElement[]): HTMLTableElement {
  for (const row of rows) [...row.cells].forEach((cell, i) => cell.setAttribute('data-label', columns[i] ?? ''));
  return h(
    'table',
    { class: 'grid' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, ...columns.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows),
  );
}
