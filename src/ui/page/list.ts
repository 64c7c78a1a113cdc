// The list of entries on the left: moniker, pid, methods, age and metadata, the selected one
// marked. Rebuilt whole on each change, which at table sizes a person reads is cheap.

import type { ViewerEntry } from '../shared/viewer.js';
import { age, h, json, plural } from './dom.js';

/** Metadata shown inline; the rest is in the detail panel. */
const METADATA_SHOWN = 3;

export function renderList(
  list: HTMLElement,
  entries: ViewerEntry[],
  selected: string | undefined,
  select: (moniker: string) => void,
): void {
  const now = Date.now();
  const items = entries.map((entry) => {
    const metadata = Object.entries(entry.metadata);
    const chips = metadata
      .slice(0, METADATA_SHOWN)
      .map(([key, value]) => h('span', { class: 'chip' }, `${key}=${typeof value === 'string' ? value : json(value)}`));
    if (metadata.length > METADATA_SHOWN)
      chips.push(h('span', { class: 'chip muted' }, `+${metadata.length - METADATA_SHOWN}`));
    return h(
      'li',
      { class: entry.moniker === selected ? 'entry selected' : 'entry', 'data-moniker': entry.moniker },
      h(
        'button',
        { type: 'button', class: 'entry-button', onclick: () => select(entry.moniker) },
        h(
          'div',
          { class: 'entry-top' },
          h('span', { class: 'moniker' }, entry.moniker),
          h(
            'span',
            { class: 'age', 'data-since': entry.registeredAt, title: `registered ${entry.registeredAt}` },
            age(entry.registeredAt, now),
          ),
        ),
        h(
          'div',
          { class: 'entry-meta' },
          h('span', { class: 'pid' }, `pid ${entry.pid}`),
          h('span', { class: 'methods', title: entry.methods.join(', ') }, plural(entry.methods.length, 'method')),
        ),
        chips.length > 0 ? h('div', { class: 'chips' }, ...chips) : null,
      ),
    );
  });
  list.replaceChildren(...items);
}

/** Moves every "age" on the page on by the clock, without rebuilding anything. */
export function tickAges(root: ParentNode): void {
  const now = Date.now();
  for (const element of root.querySelectorAll<HTMLElement>('[data-since]')) {
    element.textContent = age(element.dataset.since ?? '', now);
  }
}
