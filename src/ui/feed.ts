// The table as the viewer's pages see it: one watch on the whole table, kept as a map of entries,
// fanned out to every open page with a snapshot first. Waits for a broker when none runs (or for
// etcd to answer) and never starts one: a viewer only looks. One monitor of the whole table counts
// every call between its processes (traffic.ts); the viewer also counts the calls it sends itself.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Table } from '../index.js';
import { entryJson } from '../naming/entry.js';
import type { BrokerStatus } from '../wire/protocol.js';
import type { FeedEvent, ViewerCounts, ViewerEntry } from './shared/viewer.js';
import { Traffic } from './traffic.js';

/** With no broker running, how often to look for one. */
const BROKER_POLL_MS = 250;
/** How often the broker's figures (uptime, connections) are asked for while it runs. */
const STATUS_REFRESH_MS = 2000;
/** Changes to counts or status within this long go out as one message. */
const COALESCE_MS = 50;
/** Calls seen by the monitor within this long go out as one message, however many they are. */
export const TRAFFIC_INTERVAL_MS = 250;

export type Listener = (event: FeedEvent) => void;

/** Opens the table if a broker runs (or etcd answers); undefined or a rejection if not. */
export type OpenTable = () => Promise<Table | undefined>;

export class TableFeed {
  readonly #open: OpenTable;
  readonly #dir: string;
  readonly #backend: 'broker' | 'etcd';
  readonly #entries = new Map<string, ViewerEntry>();
  readonly #counts = new Map<string, ViewerCounts>();
  readonly #listeners = new Set<Listener>();
  readonly #stop = new AbortController();
  #table: Table | undefined;
  #broker: BrokerStatus | null = null;
  #statusTimer: NodeJS.Timeout | undefined;
  #countsTimer: NodeJS.Timeout | undefined;
  #traffic = new Traffic();
  #trafficTimer: NodeJS.Timeout | undefined;
  #monitoring: Promise<void> | undefined;
  #running: Promise<void> | undefined;
  /** Resolves once the viewer has a table to call through. */
  #connected: Promise<void>;
  #markConnected!: () => void;

  constructor(dir: string, open: OpenTable, backend: 'broker' | 'etcd' = 'broker') {
    this.#dir = dir;
    this.#backend = backend;
    this.#open = open;
    this.#connected = new Promise((resolve) => {
      this.#markConnected = resolve;
    });
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** The table to call through, or undefined while no broker runs. */
  get table(): Table | undefined {
    return this.#table;
  }

  /** Resolves when a broker has been found (tests wait on it). */
  get connected(): Promise<void> {
    return this.#connected;
  }

  entry(moniker: string): ViewerEntry | undefined {
    return this.#entries.get(moniker);
  }

  /** Hands `listener` the current state at once, then every change; returns the way to stop. */
  listen(listener: Listener): () => void {
    listener(this.#statusEvent());
    for (const entry of this.#entries.values()) listener({ type: 'registered', entry });
    listener({ type: 'counts', counts: Object.fromEntries(this.#counts) });
    listener({ type: 'traffic', ...this.#traffic.snapshot() });
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Notes something measured about a call this viewer made to `moniker`. */
  count(moniker: string, what: keyof ViewerCounts, by = 1): void {
    const counts = this.#counts.get(moniker) ?? { calls: 0, failures: 0, items: 0, events: 0 };
    counts[what] += by;
    this.#counts.set(moniker, counts);
    this.#countsTimer ??= setTimeout(() => {
      this.#countsTimer = undefined;
      this.#emit({ type: 'counts', counts: Object.fromEntries(this.#counts) });
    }, COALESCE_MS).unref();
  }

  /** Takes `moniker` out at once, ahead of the broker's word: a call just found its owner gone. */
  forget(moniker: string): void {
    const entry = this.#entries.get(moniker);
    if (!entry) return;
    this.#entries.delete(moniker);
    this.#counts.delete(moniker);
    if (this.#traffic.forget(moniker)) this.#trafficChanged();
    this.#emit({ type: 'revoked', entry });
  }

  async close(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#statusTimer);
    clearTimeout(this.#countsTimer);
    clearTimeout(this.#trafficTimer);
    this.#listeners.clear();
    await this.#running;
    await this.#monitoring;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const table = await this.#open().catch(() => undefined);
      if (!table) {
        await sleep(BROKER_POLL_MS, undefined, { signal }).catch(() => {});
        continue;
      }
      this.#table = table;
      this.#markConnected();
      this.#refreshStatus();
      const monitoring = this.#monitor(table, signal);
      this.#monitoring = monitoring;
      try {
        for await (const event of table.watch('', { signal })) {
          const entry = entryJson(event.entry);
          if (event.type === 'revoked') {
            // A call may have dropped it already; say so only once.
            if (!this.#entries.delete(entry.moniker)) continue;
            this.#counts.delete(entry.moniker);
            if (this.#traffic.forget(entry.moniker)) this.#trafficChanged();
          } else {
            this.#entries.set(entry.moniker, entry);
          }
          this.#emit({ type: event.type, entry });
          if (event.type !== 'changed') this.#refreshStatus(COALESCE_MS);
        }
      } catch {
        // The table went away for good; look for a broker again.
      } finally {
        this.#table = undefined;
        // Closing the table ends its monitor too.
        await table.close().catch(() => {});
        await monitoring;
        // Counted on a table that is gone: a new one starts from nothing.
        this.#traffic = new Traffic();
        this.#trafficChanged();
      }
    }
  }

  /** Every call of the table, folded into the traffic, until the table closes or the feed stops. */
  async #monitor(table: Table, signal: AbortSignal): Promise<void> {
    try {
      for await (const record of table.monitor('', { signal })) {
        this.#traffic.add(record);
        this.#trafficChanged();
      }
    } catch {
      // The table failed under it: the watch loop sees the same and opens a new one.
    }
  }

  /** Sends the traffic within TRAFFIC_INTERVAL_MS: one message per interval, however busy the table. */
  #trafficChanged(): void {
    this.#trafficTimer ??= setTimeout(() => {
      this.#trafficTimer = undefined;
      if (this.#stop.signal.aborted) return;
      this.#emit({ type: 'traffic', ...this.#traffic.snapshot() });
    }, TRAFFIC_INTERVAL_MS).unref();
  }

  /** Asks the broker for its figures now (or after `delay`), then every STATUS_REFRESH_MS. */
  #refreshStatus(delay = 0): void {
    clearTimeout(this.#statusTimer);
    this.#statusTimer = setTimeout(async () => {
      const table = this.#table;
      const broker = table ? await table.status().catch(() => null) : null;
      if (this.#stop.signal.aborted) return;
      if (this.#traffic.sweep()) this.#trafficChanged();
      this.#broker = broker;
      this.#emit(this.#statusEvent());
      this.#refreshStatus(STATUS_REFRESH_MS);
    }, delay).unref();
  }

  #statusEvent(): FeedEvent {
    const broker = this.#table ? this.#broker : null;
    return { type: 'status', dir: this.#dir, backend: this.#backend, viewerPid: process.pid, broker };
  }

  #emit(event: FeedEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
