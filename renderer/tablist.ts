import { h } from './dom.ts';

/**
 * The WAI-ARIA tabs pattern: one tab in the Tab order (roving tabindex), arrows/Home/End move between
 * tabs and select them, each panel is labelled by its tab.
 */
export interface TabSpec {
  id: string;
  label: string;
  panel: HTMLElement;
}

export interface Tablist {
  element: HTMLElement;
  select(id: string, focus?: boolean): void;
  readonly selected: string;
}

export function createTablist(label: string, tabs: TabSpec[], onSelect: (id: string) => void): Tablist {
  const buttons = tabs.map((tab) =>
    h('button', {
      type: 'button',
      role: 'tab',
      id: `tab-${tab.id}`,
      'aria-controls': `panel-${tab.id}`,
      'aria-selected': 'false',
      tabindex: '-1',
    }, tab.label),
  );
  for (const tab of tabs) {
    tab.panel.id = `panel-${tab.id}`;
    tab.panel.setAttribute('role', 'tabpanel');
    tab.panel.setAttribute('aria-labelledby', `tab-${tab.id}`);
    tab.panel.tabIndex = 0;
    tab.panel.hidden = true;
  }
  const element = h('div', { role: 'tablist', 'aria-label': label, class: 'tabs' }, ...buttons);
  let selected = '';

  function select(id: string, focus = false): void {
    const index = tabs.findIndex((t) => t.id === id);
    if (index < 0) return;
    tabs.forEach((tab, i) => {
      const on = i === index;
      buttons[i]!.setAttribute('aria-selected', String(on));
      buttons[i]!.tabIndex = on ? 0 : -1;
      tab.panel.hidden = !on;
    });
    if (focus) buttons[index]!.focus();
    if (selected !== id) {
      selected = id;
      onSelect(id);
    }
  }

  buttons.forEach((button, i) => {
    button.addEventListener('click', () => select(tabs[i]!.id));
    button.addEventListener('keydown', (event) => {
      const last = tabs.length - 1;
      const target = { ArrowRight: i === last ? 0 : i + 1, ArrowLeft: i === 0 ? last : i - 1, Home: 0, End: last }[event.key];
      if (target === undefined) return;
      event.preventDefault();
      select(tabs[target]!.id, true);
    });
  });

  return {
    element,
    select,
    get selected() {
      return selected;
    },
  };
}
