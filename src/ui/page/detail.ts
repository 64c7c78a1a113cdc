// The selected object: what the table says of it, a form to call any of its methods with JSON
// arguments (a stream's items appear as they come), and its events as they arrive. Built once
// per selection, so typing is never lost to a live update.

import { type CallLine, type EventLine, GONE_CODES, type ViewerEntry, type ViewerError } from '../shared/viewer.js';
import { call, subscribe } from './api.js';
import { age, clock, h, json } from './dom.js';
import { StatsPanel } from './stats.js';

/** Calls kept in the output, newest first. */
const CALLS_KEPT = 20;
/** Event rows kept in the log, newest first. */
const EVENTS_KEPT = 200;

export interface DetailHost {
  /** A call or subscription found the object gone: drop it from the list. */
  gone(moniker: string): void;
}

export class Detail {
  readonly #root: HTMLElement;
  readonly #host: DetailHost;
  #moniker: string | undefined;
  #info: HTMLElement | undefined;
  #method: HTMLSelectElement | undefined;
  #args: HTMLTextAreaElement | undefined;
  #argsError: HTMLElement | undefined;
  #callButton: HTMLButtonElement | undefined;
  #cancelButton: HTMLButtonElement | undefined;
  #output: HTMLElement | undefined;
  #eventName: HTMLInputElement | undefined;
  #subscriptions = new Map<string, { source: EventSource; chip: HTMLElement }>();
  #chips: HTMLElement | undefined;
  #log: HTMLElement | undefined;
  #banner: HTMLElement | undefined;
  #running: AbortController | undefined;
  #stats: StatsPanel | undefined;
  /** The object left the table: its forms stay disabled. */
  #left = false;

  constructor(root: HTMLElement, host: DetailHost) {
    this.#root = root;
    this.#host = host;
    this.#empty();
  }

  get moniker(): string | undefined {
    return this.#moniker;
  }

  /** Shows `entry`, or nothing; the same object again only refreshes what the table says of it. */
  show(entry: ViewerEntry | undefined): void {
    if (entry && entry.moniker === this.#moniker && !this.#left) {
      const fresh = info(entry);
      this.#info?.replaceWith(fresh);
      this.#info = fresh;
      this.#fillMethods(entry.methods);
      return;
    }
    this.#teardown();
    if (!entry) {
      this.#empty();
      return;
    }
    this.#build(entry);
  }

  /** The object left the table: say so, stop what runs against it, keep what was seen. */
  left(moniker: string, why: string): void {
    if (moniker !== this.#moniker || !this.#banner) return;
    this.#banner.textContent = `${moniker} has left the table${why ? ` (${why})` : ''}.`;
    this.#banner.hidden = false;
    this.#left = true;
    this.#closeSubscriptions();
    this.#stats?.stop();
    for (const control of this.#root.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(
      '.call-form button, .call-form select, .events-form button',
    )) {
      control.disabled = true;
    }
  }

  #empty(): void {
    this.#moniker = undefined;
    this.#root.replaceChildren(
      h(
        'div',
        { class: 'empty' },
        h('h2', {}, 'Select an object'),
        h(
          'p',
          { class: 'muted' },
          'Pick an entry on the left (or in the picture) to see its methods, call one with JSON arguments, and watch its events arrive.',
        ),
      ),
    );
  }

  #build(entry: ViewerEntry): void {
    this.#moniker = entry.moniker;
    this.#left = false;
    this.#info = info(entry);
    this.#banner = h('div', { class: 'banner', role: 'alert', hidden: true });
    this.#method = h('select', { id: 'method', 'aria-label': 'Method' });
    this.#fillMethods(entry.methods);
    this.#args = h('textarea', {
      id: 'args',
      rows: 3,
      spellcheck: 'false',
      placeholder: '[]   arguments as a JSON array, e.g. ["hello", 2, {"deep": true}]',
      'aria-label': 'Arguments as a JSON array',
    });
    this.#args.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.#call();
    });
    this.#argsError = h('div', { class: 'field-error', role: 'alert', id: 'args-error' });
    this.#callButton = h('button', { type: 'submit', class: 'primary', id: 'call' }, 'Call');
    this.#cancelButton = h(
      'button',
      { type: 'button', id: 'cancel', hidden: true, onclick: () => this.#running?.abort() },
      'Cancel',
    );
    this.#output = h('div', { class: 'output', id: 'output', 'aria-live': 'polite' });
    const form = h(
      'form',
      { class: 'call-form' },
      h('div', { class: 'row' }, h('label', { for: 'method' }, 'Method'), this.#method),
      h('div', { class: 'row' }, h('label', { for: 'args' }, 'Arguments'), this.#args),
      this.#argsError,
      h(
        'div',
        { class: 'actions' },
        this.#callButton,
        this.#cancelButton,
        h('span', { class: 'muted small' }, 'Ctrl+Enter calls'),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#call();
    });

    this.#eventName = h('input', { id: 'event-name', value: 'data', spellcheck: 'false', 'aria-label': 'Event name' });
    this.#chips = h('div', { class: 'chips subscriptions' });
    this.#log = h('ol', { class: 'event-log', id: 'event-log', 'aria-live': 'polite' });
    const eventsForm = h(
      'form',
      { class: 'events-form' },
      h('label', { for: 'event-name' }, 'Event'),
      this.#eventName,
      h('button', { type: 'submit', id: 'subscribe' }, 'Subscribe'),
    );
    eventsForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#subscribe();
    });

    this.#stats = new StatsPanel(entry.moniker);
    this.#root.replaceChildren(
      this.#banner,
      this.#info,
      this.#stats.element,
      h(
        'div',
        { class: 'panes' },
        h('section', { class: 'pane' }, h('h3', {}, 'Call a method'), form, this.#output),
        h('section', { class: 'pane' }, h('h3', {}, 'Events'), eventsForm, this.#chips, this.#log),
      ),
    );
  }

  #fillMethods(methods: string[]): void {
    const select = this.#method;
    if (!select) return;
    const chosen = select.value;
    select.replaceChildren(...methods.map((method) => h('option', { value: method }, method)));
    if (methods.includes(chosen)) select.value = chosen;
  }

  async #call(): Promise<void> {
    const moniker = this.#moniker;
    const method = this.#method?.value;
    if (!moniker || !method || this.#running || !this.#args || !this.#argsError) return;
    const parsed = parseArgs(this.#args.value);
    if ('error' in parsed) {
      this.#argsError.textContent = parsed.error;
      this.#args.setAttribute('aria-invalid', 'true');
      return;
    }
    this.#argsError.textContent = '';
    this.#args.removeAttribute('aria-invalid');

    const body = h('div', { class: 'call-body' });
    const block = h(
      'div',
      { class: 'call-block running' },
      h(
        'div',
        { class: 'call-head' },
        h('code', {}, `${method}(${parsed.args.map((arg) => json(arg)).join(', ')})`),
        h('span', { class: 'muted small' }, clock(new Date())),
      ),
      body,
    );
    this.#output?.prepend(block);
    while ((this.#output?.children.length ?? 0) > CALLS_KEPT) this.#output?.lastElementChild?.remove();

    const running = new AbortController();
    this.#running = running;
    this.#setRunning(true);
    let items: HTMLOListElement | undefined;
    const onLine = (line: CallLine) => {
      switch (line.type) {
        case 'result':
          body.append(h('pre', { class: 'result' }, json(line.value, true)));
          break;
        case 'item':
          items ??= body.appendChild(h('ol', { class: 'items', start: 0 }));
          items.append(h('li', { class: 'item' }, h('code', {}, json(line.value))));
          break;
        case 'end':
          body.append(
            h(
              'div',
              { class: 'muted small end' },
              `stream ended after ${line.items} item${line.items === 1 ? '' : 's'}`,
            ),
          );
          break;
        case 'error':
          body.append(errorView(line.error));
          if (GONE_CODES.includes(line.error.code) && moniker === this.#moniker) {
            this.left(moniker, line.error.code);
            this.#host.gone(moniker);
          }
          break;
      }
    };
    try {
      await call({ moniker, method, args: parsed.args }, onLine, running.signal);
    } catch (error) {
      const cancelled = running.signal.aborted;
      body.append(
        cancelled
          ? h('div', { class: 'muted small end' }, 'cancelled')
          : errorView({ code: 'VIEWER', message: `the viewer could not be reached: ${(error as Error).message}` }),
      );
    } finally {
      block.classList.remove('running');
      if (this.#running === running) {
        this.#running = undefined;
        this.#setRunning(false);
      }
    }
  }

  #setRunning(running: boolean): void {
    if (this.#callButton) this.#callButton.disabled = running || this.#left;
    if (this.#cancelButton) this.#cancelButton.hidden = !running;
  }

  #subscribe(): void {
    const moniker = this.#moniker;
    const event = this.#eventName?.value.trim();
    if (!moniker || !event || this.#subscriptions.has(event)) return;
    const chip = h(
      'span',
      { class: 'chip subscription pending', 'data-event': event },
      event,
      h(
        'button',
        {
          type: 'button',
          class: 'chip-close',
          'aria-label': `Unsubscribe from ${event}`,
          onclick: () => this.#unsubscribe(event),
        },
        '×',
      ),
    );
    this.#chips?.append(chip);
    const source = subscribe(moniker, event, (line: EventLine) => {
      if (line.type === 'ready') chip.classList.remove('pending');
      else if (line.type === 'event') this.#logEvent(event, line.at, line.args);
      else {
        this.#logFailure(event, line.error);
        this.#unsubscribe(event);
        if (GONE_CODES.includes(line.error.code)) {
          this.left(moniker, line.error.code);
          this.#host.gone(moniker);
        }
      }
    });
    this.#subscriptions.set(event, { source, chip });
  }

  #unsubscribe(event: string): void {
    const subscription = this.#subscriptions.get(event);
    if (!subscription) return;
    subscription.source.close();
    subscription.chip.remove();
    this.#subscriptions.delete(event);
  }

  #logEvent(event: string, at: string, args: unknown[]): void {
    this.#log?.prepend(
      h(
        'li',
        { class: 'event-row' },
        h('span', { class: 'time' }, clock(new Date(at))),
        h('span', { class: 'event-name' }, event),
        h('code', { class: 'event-args' }, args.map((arg) => json(arg)).join(', ')),
      ),
    );
    while ((this.#log?.children.length ?? 0) > EVENTS_KEPT) this.#log?.lastElementChild?.remove();
  }

  #logFailure(event: string, error: ViewerError): void {
    this.#log?.prepend(
      h('li', { class: 'event-row failed' }, h('span', { class: 'event-name' }, event), errorView(error)),
    );
  }

  #closeSubscriptions(): void {
    for (const event of [...this.#subscriptions.keys()]) this.#unsubscribe(event);
  }

  #teardown(): void {
    this.#running?.abort();
    this.#running = undefined;
    this.#closeSubscriptions();
    this.#stats?.stop();
    this.#stats = undefined;
    this.#banner = undefined;
  }
}

function info(entry: ViewerEntry): HTMLElement {
  const metadata = Object.entries(entry.metadata);
  return h(
    'header',
    { class: 'object-info' },
    h('h2', { class: 'object-moniker' }, entry.moniker),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'pid'),
      h('dd', {}, String(entry.pid)),
      h('dt', {}, 'registered'),
      h(
        'dd',
        { title: entry.registeredAt },
        h('span', { 'data-since': entry.registeredAt }, age(entry.registeredAt, Date.now())),
        ' ago',
      ),
      h('dt', {}, 'changed'),
      h(
        'dd',
        { title: entry.changedAt },
        h('span', { 'data-since': entry.changedAt }, age(entry.changedAt, Date.now())),
        ' ago',
      ),
      h('dt', {}, 'methods'),
      h('dd', { class: 'method-list' }, ...entry.methods.map((method) => h('code', { class: 'method' }, method))),
      h('dt', {}, 'metadata'),
      h(
        'dd',
        {},
        metadata.length === 0
          ? h('span', { class: 'muted' }, 'none')
          : h('pre', { class: 'metadata' }, json(entry.metadata, true)),
      ),
    ),
  );
}

function errorView(error: ViewerError): HTMLElement {
  const remote = error.name
    ? ` ${error.name}${error.remoteCode === undefined ? '' : ` (${json(error.remoteCode)})`}`
    : '';
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, `${error.code}${remote}`), ' ', error.message);
}

/** The arguments text as an array of values, or what is wrong with it; nothing is sent on a mistake. */
export function parseArgs(text: string): { args: unknown[] } | { error: string } {
  if (text.trim() === '') return { args: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `The arguments are not valid JSON (${(error as Error).message}); nothing was sent.` };
  }
  if (!Array.isArray(value)) {
    return { error: `The arguments are a JSON array, one item per argument: [${text.trim()}]; nothing was sent.` };
  }
  return { args: value };
}
