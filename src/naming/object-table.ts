// The running object table itself: entries, a prefix index, owners and watchers, as a plain
// class with no I/O. The broker feeds it messages; tests drive it directly. It never checks
// who may do what beyond ownership: limits and validation belong to the broker.

import { RuntableError } from '../errors.js';
import type { TableEventType, WireEntry } from '../wire/protocol.js';

/** Identifies an owner: the broker uses one per control connection. */
export type OwnerId = number;

export type TableListener = (type: TableEventType, entry: WireEntry) => void;

interface Slot {
  owner: OwnerId;
  entry: WireEntry;
}

interface Watcher {
  prefix: string;
  listener: TableListener;
}

export interface RegisterResult {
  entry: WireEntry;
  /** Set when `replace` took the moniker from a live owner. */
  replaced?: { owner: OwnerId; entry: WireEntry };
}

export class ObjectTable {
  readonly #slots = new Map<string, Slot>();
  /** Every moniker, in code-unit order, so a prefix is one contiguous run found by bisection. */
  readonly #sorted: string[] = [];
  readonly #owned = new Map<OwnerId, Set<string>>();
  readonly #watchers = new Set<Watcher>();

  get size(): number {
    return this.#slots.size;
  }

  /** How many monikers `owner` holds. */
  ownedBy(owner: OwnerId): number {
    return this.#owned.get(owner)?.size ?? 0;
  }

  register(owner: OwnerId, entry: WireEntry, options: { replace?: boolean } = {}): RegisterResult {
    const current = this.#slots.get(entry.moniker);
    let replaced: RegisterResult['replaced'];
    if (current) {
      if (!options.replace) {
        throw new RuntableError(
          'ALREADY_REGISTERED',
          `${entry.moniker} is already registered by pid ${current.entry.pid}; pass { replace: true } to take it over or { queue: true } to wait for it`,
        );
      }
      this.#remove(current);
      replaced = { owner: current.owner, entry: current.entry };
      this.#notify('revoked', current.entry);
    }
    const slot = { owner, entry };
    this.#slots.set(entry.moniker, slot);
    this.#sorted.splice(this.#lowerBound(entry.moniker), 0, entry.moniker);
    let owned = this.#owned.get(owner);
    if (!owned) {
      owned = new Set();
      this.#owned.set(owner, owned);
    }
    owned.add(entry.moniker);
    this.#notify('registered', entry);
    return replaced ? { entry, replaced } : { entry };
  }

  /** Removes `owner`'s entry for `moniker`; returns it, or undefined if `owner` did not hold it. */
  revoke(owner: OwnerId, moniker: string): WireEntry | undefined {
    const slot = this.#slots.get(moniker);
    if (!slot || slot.owner !== owner) return undefined;
    this.#remove(slot);
    this.#notify('revoked', slot.entry);
    return slot.entry;
  }

  /** Removes every entry of `owner`: its process or connection is gone. */
  revokeOwner(owner: OwnerId): WireEntry[] {
    const owned = this.#owned.get(owner);
    if (!owned) return [];
    const revoked: WireEntry[] = [];
    for (const moniker of [...owned]) {
      const entry = this.revoke(owner, moniker);
      if (entry) revoked.push(entry);
    }
    this.#owned.delete(owner);
    return revoked;
  }

  touch(owner: OwnerId, moniker: string, now: Date, metadata?: Record<string, unknown>): WireEntry {
    const slot = this.#slots.get(moniker);
    if (!slot || slot.owner !== owner) {
      throw new RuntableError('NOT_REGISTERED', `${moniker} is not registered by this connection`);
    }
    slot.entry = { ...slot.entry, changedAt: now, ...(metadata ? { metadata } : {}) };
    this.#notify('changed', slot.entry);
    return slot.entry;
  }

  lookup(moniker: string): WireEntry | undefined {
    return this.#slots.get(moniker)?.entry;
  }

  list(prefix: string): WireEntry[] {
    const out: WireEntry[] = [];
    for (let i = this.#lowerBound(prefix); i < this.#sorted.length; i++) {
      const moniker = this.#sorted[i] as string;
      if (!moniker.startsWith(prefix)) break;
      out.push((this.#slots.get(moniker) as Slot).entry);
    }
    return out;
  }

  /** Calls `listener` for every later change under `prefix`; returns the function that stops it. */
  watch(prefix: string, listener: TableListener): () => void {
    const watcher = { prefix, listener };
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  #remove(slot: Slot): void {
    const moniker = slot.entry.moniker;
    this.#slots.delete(moniker);
    this.#sorted.splice(this.#lowerBound(moniker), 1);
    this.#owned.get(slot.owner)?.delete(moniker);
  }

  #notify(type: TableEventType, entry: WireEntry): void {
    for (const watcher of this.#watchers) {
      if (entry.moniker.startsWith(watcher.prefix)) watcher.listener(type, entry);
    }
  }

  /** Index of the first moniker not less than `key`. */
  #lowerBound(key: string): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#sorted[mid] as string) < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
