// The viewer page: the live feed keeps the state, and the list, the picture and the status line
// are drawn from it on the next frame; the detail panel follows the selected object.

import './styles.css';
import { TOKEN_PARAM } from '../shared/viewer.js';
import { openFeed } from './api.js';
import { Detail } from './detail.js';
import { byId, plural } from './dom.js';
import { renderList, tickAges } from './list.js';
import { renderMachine } from './machine.js';
import { newState, visibleEntries } from './state.js';

const state = newState();
const list = byId('entries');
const machine = byId('machine');
const status = byId('status');
const count = byId('count');
const filter = byId<HTMLInputElement>('filter');

// The token now lives in a cookie: keep it out of the address bar, history and screenshots.
if (new URLSearchParams(location.search).has(TOKEN_PARAM)) history.replaceState(null, '', location.pathname);

const detail = new Detail(byId('detail'), {
  gone(moniker) {
    state.entries.delete(moniker);
    schedule();
  },
});

function select(moniker: string): void {
  state.selected = moniker;
  detail.show(state.entries.get(moniker));
  schedule();
}

let scheduled = false;
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}

function render(): void {
  const entries = visibleEntries(state);
  renderList(list, entries, state.selected, select);
  renderMachine(
    machine,
    entries,
    state.status,
    { counts: state.counts, traffic: state.traffic },
    state.selected,
    select,
  );
  const hidden = state.entries.size - entries.length;
  count.textContent = plural(entries.length, 'object') + (hidden > 0 ? ` shown, ${hidden} hidden by the filter` : '');
  renderStatus();
}

function renderStatus(): void {
  const broker = state.status?.broker;
  let text: string;
  let tone: string;
  if (!state.live) {
    text = 'viewer unreachable; reconnecting…';
    tone = 'down';
  } else if (!state.status) {
    text = 'connecting…';
    tone = 'waiting';
  } else if (!broker) {
    text =
      state.status.backend === 'etcd'
        ? `etcd at ${state.status.dir} is not answering; trying again`
        : `no broker running for ${state.status.dir}; waiting for one`;
    tone = 'waiting';
  } else {
    const names = state.status.backend === 'etcd' ? 'on etcd' : `broker pid ${broker.pid}`;
    text = `live · ${state.status.dir} · ${names} · ${plural(broker.entries, 'entry')}`;
    tone = 'live';
  }
  status.textContent = text;
  status.dataset.tone = tone;
}

openFeed({
  open() {
    // A snapshot follows every (re)connection.
    state.entries.clear();
    state.live = true;
    schedule();
  },
  lost() {
    state.live = false;
    schedule();
  },
  event(event) {
    switch (event.type) {
      case 'registered':
      case 'changed':
        state.entries.set(event.entry.moniker, event.entry);
        if (event.entry.moniker === state.selected) detail.show(event.entry);
        break;
      case 'revoked':
        state.entries.delete(event.entry.moniker);
        if (event.entry.moniker === state.selected) detail.left(event.entry.moniker, 'revoked');
        break;
      case 'status':
        state.status = event;
        break;
      case 'counts':
        state.counts = event.counts;
        break;
      case 'traffic':
        state.traffic = { pairs: event.pairs, errors: event.errors, missed: event.missed };
        break;
    }
    schedule();
  },
});

filter.addEventListener('input', () => {
  state.filter = filter.value;
  schedule();
});

setInterval(() => tickAges(document), 1000);
render();
