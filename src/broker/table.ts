// The running object table itself: entries, a prefix index, owners, the line of would-be owners
// per moniker, and watchers, as a plain class with no I/O. The broker feeds it messages; tests
// drive it directly. It never checks who may do what beyond ownership: limits and validation
// belong to the broker.

import { RuntableError } from '../errors.js';
import type { TableEventType, WireEntry } from '../wire/protocol.js';

/** Identifies an owner: the broker uses one per control connection. */
export type OwnerId = number;

export type TableListener = (type: TableEventType, entry: WireEntry) => void;

/** An owner and its entry: a moniker's holder, or a claim waiting in its line. */
export interface Claim {
  owner: OwnerId;
  entry: WireEntry;
}

type Slot = Claim;

interface Watcher {
  prefix: string;
  listener: TableListener;
}

export type RegisterResult =
  | {
      /** The entry now in the table. */
      entry: WireEntry;
      /** Set when `replace` took the moniker from a live owner. */
      replaced?: Claim;
      queued?: never;
    }
  | {
      /** The moniker is taken: the claim waits in line at this place, 1 being next. */
      queued: number;
      entry?: never;
      replaced?: never;
    };

/** What a revoke did. */
export interface RevokeResult {
  /** The entry removed, when the owner held the moniker. */
  revoked?: WireEntry;
  /** The first claim in line, which now holds the moniker in its place. */
  promoted?: Claim;
  /** The owner's claim, when it was only waiting in line for the moniker and has left it. */
  left?: Claim;
}

/** What an owner's leaving did. */
export interface OwnerRevokeResult {
  /** The entries it held. */
  revoked: WireEntry[];
  /** Claims of other owners that took over its monikers, in the order they did. */
  promoted: Claim[];
  /** Its own claims that were waiting in line. */
  left: Claim[];
}

export interface ObjectTableOptions {
  /** The clock that dates a promotion; default the system clock. */
  now?: () => Date;
}

/** Metadata of an entry that has none: one object for them all. */
const NO_METADATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * One copy of a value many entries hold (an endpoint path, a method list), counted, so that
 * 10,000 entries of a few owners keep a few copies, and a value leaves with its last entry.
 */
class Shared<T> {
  readonly #values = new Map<string, { value: T; users: number }>();

  take(key: string, value: T): T {
    const known = this.#values.get(key);
    if (known) {
      known.users++;
      return known.value;
    }
    this.#values.set(key, { value, users: 1 });
    return value;
  }

  drop(key: string): void {
    const known = this.#values.get(key);
    if (known && --known.users === 0) this.#values.delete(key);
  }
}

function isEmpty(object: Record<string, unknown>): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * Makes `entry` hold the shared copies (same values, fewer objects): the table keeps the entry
 * it was given, so the caller's reference stays the table's.
 */
function share(entry: WireEntry, endpoint: string, methods: string[]): WireEntry {
  if (entry.endpoint !== endpoint) entry.endpoint = endpoint;
  if (entry.methods !== methods) entry.methods = methods;
  if (entry.metadata !== NO_METADATA && isEmpty(entry.metadata)) entry.metadata = NO_METADATA;
  // One Date where both are the same instant, as a fresh registration's are.
  if (entry.changedAt !== entry.registeredAt && entry.changedAt.getTime() === entry.registeredAt.getTime()) {
    entry.changedAt = entry.registeredAt;
  }
  return entry;
}

export class ObjectTable {
  readonly #endpoints = new Shared<string>();
  readonly #methodLists = new Shared<string[]>();
  readonly #slots = new Map<string, Slot>();
  /** Every slot, in code-unit order of moniker, so a prefix is one contiguous run found by bisection. */
  readonly #sorted: Slot[] = [];
  readonly #owned = new Map<OwnerId, Set<string>>();
  readonly #watchers = new Set<Watcher>();
  /**
   * Would-be owners per moniker, first come first served. Never empty when present; the moniker
   * is taken, except for claims held on a free one (see `hold`) until `handOverFree`.
   */
  readonly #lines = new Map<string, Claim[]>();
  /** The monikers each owner waits for. */
  readonly #waiting = new Map<OwnerId, Set<string>>();
  readonly #now: () => Date;

  constructor(options: ObjectTableOptions = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  get size(): number {
    return this.#slots.size;
  }

  /** How many monikers `owner` holds. */
  ownedBy(owner: OwnerId): number {
    return this.#owned.get(owner)?.size ?? 0;
  }

  /** How many monikers `owner` waits in line for. */
  queuedBy(owner: OwnerId): number {
    return this.#waiting.get(owner)?.size ?? 0;
  }

  /** The claims waiting for `moniker`, next first. */
  line(moniker: string): Claim[] {
    return [...(this.#lines.get(moniker) ?? [])];
  }

  /** Every moniker someone waits in line for, with its claims next first. */
  lines(): [string, readonly Claim[]][] {
    return [...this.#lines.entries()];
  }

  /**
   * Registers `entry` for `owner`. A taken moniker is refused, unless `replace` (the holder
   * loses it) or `queue` (the claim waits in line and is promoted when the holder leaves).
   * `queue` with `hold` waits in line even for a free moniker, until `handOverFree`.
   * The holder registering the same endpoint and object again gets its entry back unchanged.
   */
  register(
    owner: OwnerId,
    entry: WireEntry,
    options: { replace?: boolean; queue?: boolean; hold?: boolean } = {},
  ): RegisterResult {
    const moniker = entry.moniker;
    const current = this.#slots.get(moniker);
    // An owner is in a moniker's story at most once, as holder or in line: that keeps a revoke unambiguous.
    if (this.#waiting.get(owner)?.has(moniker)) {
      throw new RuntableError(
        'ALREADY_REGISTERED',
        `${moniker}: this connection already waits in line for it; revoke it to leave the line`,
      );
    }
    if (!current && options.queue && options.hold) return { queued: this.#enqueue(owner, entry) };
    let replaced: Claim | undefined;
    if (current) {
      if (current.owner === owner && sameObject(current.entry, entry)) return { entry: current.entry };
      if (options.queue && !options.replace && current.owner !== owner) return { queued: this.#enqueue(owner, entry) };
      if (!options.replace) {
        throw new RuntableError(
          'ALREADY_REGISTERED',
          `${moniker} is already registered by pid ${current.entry.pid}; pass { replace: true } to take it over or { queue: true } to wait for it`,
        );
      }
      // The line stays as it is: replace changes the holder, not who comes next.
      this.#remove(current);
      replaced = { owner: current.owner, entry: current.entry };
      this.#notify('revoked', current.entry);
    }
    const kept = this.#insert(owner, entry);
    return replaced ? { entry: kept, replaced } : { entry: kept };
  }

  /**
   * `owner` gives up `moniker`: its entry is removed and the first claim in line takes its
   * place, or, if it was only waiting in line, it leaves the line. Anyone else's is untouched.
   */
  revoke(owner: OwnerId, moniker: string): RevokeResult {
    const slot = this.#slots.get(moniker);
    if (!slot || slot.owner !== owner) {
      const left = this.#leaveLine(owner, moniker);
      return left ? { left } : {};
    }
    this.#remove(slot);
    this.#notify('revoked', slot.entry);
    const promoted = this.#promote(moniker);
    return promoted ? { revoked: slot.entry, promoted } : { revoked: slot.entry };
  }

  /** Removes every entry and claim of `owner`: its process or connection is gone. */
  revokeOwner(owner: OwnerId): OwnerRevokeResult {
    const result: OwnerRevokeResult = { revoked: [], promoted: [], left: [] };
    // Leave the lines first, so none of its own monikers is handed back to it.
    for (const moniker of [...(this.#waiting.get(owner) ?? [])]) {
      const left = this.#leaveLine(owner, moniker);
      if (left) result.left.push(left);
    }
    for (const moniker of [...(this.#owned.get(owner) ?? [])]) {
      const { revoked, promoted } = this.revoke(owner, moniker);
      if (revoked) result.revoked.push(revoked);
      if (promoted) result.promoted.push(promoted);
    }
    this.#owned.delete(owner);
    return result;
  }

  /** Ends every `hold`: each free moniker with a line goes to its first claim. */
  handOverFree(): Claim[] {
    const promoted: Claim[] = [];
    for (const moniker of [...this.#lines.keys()]) {
      if (this.#slots.has(moniker)) continue;
      const claim = this.#promote(moniker);
      if (claim) promoted.push(claim);
    }
    return promoted;
  }

  touch(owner: OwnerId, moniker: string, now: Date, metadata?: Record<string, unknown>): WireEntry {
    const slot = this.#slots.get(moniker);
    if (!slot || slot.owner !== owner) {
      throw new RuntableError('NOT_REGISTERED', `${moniker} is not registered by this connection`);
    }
    const { moniker: name, pid, endpoint, object, methods, registeredAt } = slot.entry;
    // A literal, not a spread: a spread copy of an entry takes twice the memory.
    slot.entry = {
      moniker: name,
      pid,
      endpoint,
      object,
      methods,
      metadata: metadata === undefined ? slot.entry.metadata : isEmpty(metadata) ? NO_METADATA : metadata,
      registeredAt,
      changedAt: now,
    };
    this.#notify('changed', slot.entry);
    return slot.entry;
  }

  lookup(moniker: string): WireEntry | undefined {
    return this.#slots.get(moniker)?.entry;
  }

  list(prefix: string): WireEntry[] {
    return this.listClaims(prefix).map((claim) => claim.entry);
  }

  /** The holders of every moniker under `prefix`, in moniker order; read them, don't keep them. */
  listClaims(prefix: string): readonly Claim[] {
    const start = this.#lowerBound(prefix);
    let end = start;
    while (end < this.#sorted.length && (this.#sorted[end] as Slot).entry.moniker.startsWith(prefix)) end++;
    return this.#sorted.slice(start, end);
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

  /** Puts `given` in the table, as the table keeps it (see `stored`); returns what it keeps. */
  #insert(owner: OwnerId, given: WireEntry): WireEntry {
    const endpoint = this.#endpoints.take(given.endpoint, given.endpoint);
    const methods = this.#methodLists.take(JSON.stringify(given.methods), given.methods);
    const entry = share(given, endpoint, methods);
    const slot = { owner, entry };
    this.#slots.set(entry.moniker, slot);
    this.#sorted.splice(this.#lowerBound(entry.moniker), 0, slot);
    let owned = this.#owned.get(owner);
    if (!owned) {
      owned = new Set();
      this.#owned.set(owner, owned);
    }
    owned.add(entry.moniker);
    this.#notify('registered', entry);
    return entry;
  }

  /** Puts a claim at the back of its moniker's line; returns its place. */
  #enqueue(owner: OwnerId, entry: WireEntry): number {
    let line = this.#lines.get(entry.moniker);
    if (!line) {
      line = [];
      this.#lines.set(entry.moniker, line);
    }
    line.push({ owner, entry });
    let waiting = this.#waiting.get(owner);
    if (!waiting) {
      waiting = new Set();
      this.#waiting.set(owner, waiting);
    }
    waiting.add(entry.moniker);
    return line.length;
  }

  /** Hands a freed moniker to the first claim in its line, dated now. */
  #promote(moniker: string): Claim | undefined {
    const line = this.#lines.get(moniker);
    const claim = line?.shift();
    if (!line || !claim) return undefined;
    if (line.length === 0) this.#lines.delete(moniker);
    this.#forget(claim.owner, moniker);
    const now = this.#now();
    const entry = this.#insert(claim.owner, { ...claim.entry, registeredAt: now, changedAt: now });
    return { owner: claim.owner, entry };
  }

  #leaveLine(owner: OwnerId, moniker: string): Claim | undefined {
    const line = this.#lines.get(moniker);
    const index = line?.findIndex((claim) => claim.owner === owner) ?? -1;
    if (!line || index < 0) return undefined;
    const [claim] = line.splice(index, 1);
    if (line.length === 0) this.#lines.delete(moniker);
    this.#forget(owner, moniker);
    return claim;
  }

  #forget(owner: OwnerId, moniker: string): void {
    const waiting = this.#waiting.get(owner);
    waiting?.delete(moniker);
    if (waiting?.size === 0) this.#waiting.delete(owner);
  }

  #remove(slot: Slot): void {
    const moniker = slot.entry.moniker;
    this.#endpoints.drop(slot.entry.endpoint);
    this.#methodLists.drop(JSON.stringify(slot.entry.methods));
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
      if ((this.#sorted[mid] as Slot).entry.moniker < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** The same object on the same endpoint: a repeated register, not a second one. */
function sameObject(a: WireEntry, b: WireEntry): boolean {
  return a.endpoint === b.endpoint && a.object === b.object;
}
