// The running object table itself: entries, a prefix index, owners, the line of would-be owners
// per moniker (claim-lines.ts), and watchers, as a plain class with no I/O. The broker feeds it messages; tests
// drive it directly. It never checks who may do what beyond ownership: limits and validation
// belong to the broker. Entries are kept as rows of columns (see Columns), not as objects: a
// WireEntry is built when one is asked for (a lookup, an event), and a List is written from the
// columns straight into its batch.

import { RuntableError } from '../errors.js';
import type { EntryBatch, NameBatch, TableEventType, WireEntry } from '../wire/protocol.js';
import { type Claim, ClaimLines } from './claim-lines.js';
import { Columns, type EndpointRecord, type Holder, isEmpty, type OwnerId } from './entry-columns.js';
import { type BatchReader, ListPacker, type ListPartOf } from './list-packer.js';
import { MonikerOrder } from './moniker-order.js';
import { joinNames } from './name-rows.js';

export type { Claim } from './claim-lines.js';
export type { OwnerId } from './entry-columns.js';
export type { BatchReader } from './list-packer.js';

export type TableListener = (type: TableEventType, entry: WireEntry) => void;

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

export class ObjectTable {
  readonly #rows = new Columns();
  /** Moniker to row. */
  readonly #index = new Map<string, number>();
  /** Every row in moniker order, so a prefix is one contiguous run. */
  readonly #order = new MonikerOrder(this.#rows.monikers);
  /** Each owner's rows, in no order (a row knows its place: Columns.ownerSlots). */
  readonly #byOwner = new Map<OwnerId, number[]>();
  readonly #holders = new Map<string, Holder>();
  readonly #endpoints = new Map<string, EndpointRecord>();
  #nextEndpoint = 1;
  /** Writes every List's batch, from the columns. */
  readonly #packer = new ListPacker();
  readonly #watchers = new Set<Watcher>();
  /** Would-be owners per moniker, and the monikers each owner waits for. */
  readonly #lines: ClaimLines;

  constructor(options: ObjectTableOptions = {}) {
    const now = options.now ?? (() => new Date());
    this.#lines = new ClaimLines({
      has: (moniker) => this.#index.has(moniker),
      insert: (owner, entry) => this.#insert(owner, entry),
      now,
    });
  }

  get size(): number {
    return this.#index.size;
  }

  /** How many monikers `owner` holds. */
  ownedBy(owner: OwnerId): number {
    return this.#byOwner.get(owner)?.length ?? 0;
  }

  /** How many monikers `owner` waits in line for. */
  queuedBy(owner: OwnerId): number {
    return this.#lines.queuedBy(owner);
  }

  /** The claims waiting for `moniker`, next first. */
  line(moniker: string): Claim[] {
    return this.#lines.line(moniker);
  }

  /** Every moniker someone waits in line for, with its claims next first. */
  lines(): [string, readonly Claim[]][] {
    return this.#lines.lines();
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
    const current = this.#index.get(moniker);
    // An owner is in a moniker's story at most once, as holder or in line: that keeps a revoke unambiguous.
    if (this.#lines.waits(owner, moniker)) {
      throw new RuntableError(
        'ALREADY_REGISTERED',
        `${moniker}: this connection already waits in line for it; revoke it to leave the line`,
      );
    }
    if (current === undefined && options.queue && options.hold) return { queued: this.#lines.enqueue(owner, entry) };
    let replaced: Claim | undefined;
    if (current !== undefined) {
      const rows = this.#rows;
      const holder = rows.holders[current] as Holder;
      const currentOwner = rows.owners[current] as OwnerId;
      if (currentOwner === owner && holder.path === entry.endpoint && rows.objects[current] === entry.object) {
        return { entry: this.#entry(current) };
      }
      if (options.queue && !options.replace && currentOwner !== owner)
        return { queued: this.#lines.enqueue(owner, entry) };
      if (!options.replace) {
        throw new RuntableError(
          'ALREADY_REGISTERED',
          `${moniker} is already registered by pid ${holder.pid}; pass { replace: true } to take it over or { queue: true } to wait for it`,
        );
      }
      // The line stays as it is: replace changes the holder, not who comes next.
      const old = this.#entry(current);
      this.#remove(current);
      replaced = { owner: currentOwner, entry: old };
      this.#notify('revoked', old);
    }
    const kept = this.#insert(owner, entry);
    return replaced ? { entry: kept, replaced } : { entry: kept };
  }

  /**
   * `owner` gives up `moniker`: its entry is removed and the first claim in line takes its
   * place, or, if it was only waiting in line, it leaves the line. Anyone else's is untouched.
   */
  revoke(owner: OwnerId, moniker: string): RevokeResult {
    const row = this.#index.get(moniker);
    if (row === undefined || this.#rows.owners[row] !== owner) {
      const left = this.#lines.leave(owner, moniker);
      return left ? { left } : {};
    }
    const revoked = this.#entry(row);
    this.#remove(row);
    this.#notify('revoked', revoked);
    const promoted = this.#lines.promote(moniker);
    return promoted ? { revoked, promoted } : { revoked };
  }

  /** Removes every entry and claim of `owner`: its process or connection is gone. */
  revokeOwner(owner: OwnerId): OwnerRevokeResult {
    const result: OwnerRevokeResult = { revoked: [], promoted: [], left: [] };
    // Leave the lines first, so none of its own monikers is handed back to it.
    for (const moniker of this.#lines.waitingFor(owner)) {
      const left = this.#lines.leave(owner, moniker);
      if (left) result.left.push(left);
    }
    const owned = this.#byOwner.get(owner);
    if (owned) {
      const { monikers, sequence } = this.#rows;
      const inOrder = [...owned].sort((a, b) => (sequence[a] as number) - (sequence[b] as number));
      for (const moniker of inOrder.map((row) => monikers[row] as string)) {
        const { revoked, promoted } = this.revoke(owner, moniker);
        if (revoked) result.revoked.push(revoked);
        if (promoted) result.promoted.push(promoted);
      }
    }
    this.#byOwner.delete(owner);
    return result;
  }

  /** Ends every `hold`: each free moniker with a line goes to its first claim. */
  handOverFree(): Claim[] {
    return this.#lines.handOverFree();
  }

  touch(owner: OwnerId, moniker: string, now: Date, metadata?: Record<string, unknown>): WireEntry {
    const row = this.#index.get(moniker);
    if (row === undefined || this.#rows.owners[row] !== owner) {
      throw new RuntableError('NOT_REGISTERED', `${moniker} is not registered by this connection`);
    }
    this.#rows.changed[row] = now.getTime();
    if (metadata !== undefined) {
      if (isEmpty(metadata)) this.#rows.metadata.delete(row);
      else this.#rows.metadata.set(row, metadata);
    }
    const entry = this.#entry(row);
    this.#notify('changed', entry);
    return entry;
  }

  lookup(moniker: string): WireEntry | undefined {
    const row = this.#index.get(moniker);
    return row === undefined ? undefined : this.#entry(row);
  }

  /** The entries under `prefix`, in moniker order. */
  list(prefix: string): WireEntry[] {
    const entries: WireEntry[] = [];
    const sorted = this.#order.rows;
    for (let i = this.#order.lowerBound(prefix); i < sorted.length; i++) {
      const row = sorted[i] as number;
      if (!(this.#rows.monikers[row] as string).startsWith(prefix)) break;
      entries.push(this.#entry(row));
    }
    return entries;
  }

  /** Whether some entry is held by process `pid`. */
  holdsPid(pid: number): boolean {
    for (const holder of this.#holders.values()) if (holder.pid === pid) return true;
    return false;
  }

  /**
   * The entries under `prefix` as an EntryBatch (protocol.ts), written from the columns. Its rows
   * are a view into the table's batch buffer, marked for the encoder to send as they are (not
   * copied): a later `pack` overwrites them once nothing is left to write to `reader` (the reply
   * has been written), and writes into a fresh buffer until then. With no
   * `reader`, the next `pack` overwrites them: use or copy the batch before packing again.
   */
  pack(prefix: string, reader?: BatchReader): EntryBatch {
    const [start, end] = this.#order.range(prefix);
    return this.#packer.pack(this.#rows, this.#order.rows, start, end, reader);
  }

  /** Where the entries under `prefix` lie in moniker order, for packRange: [start, end). */
  range(prefix: string): [start: number, end: number] {
    return this.#order.range(prefix);
  }

  /**
   * Entries `start` to `end` of the moniker order (from `range`) as one part of a List sent in
   * parts, as `pack` writes a whole one. Parts after the first (`part.continued`) go after the one
   * before in the same buffer: the table must not change between the parts of one List.
   */
  packRange(start: number, end: number, reader: BatchReader | undefined, part: ListPartOf): EntryBatch {
    return this.#packer.pack(this.#rows, this.#order.rows, start, end, reader, part);
  }

  /** The monikers under `prefix`, in moniker order, as a NameBatch (name-rows.ts). */
  packNames(prefix: string): NameBatch {
    const [start, end] = this.#order.range(prefix);
    return joinNames(this.#rows.monikers, this.#order.rows, start, end);
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

  /** The entry of `row`, as a new object (its method list is the shared one: read it, don't change it). */
  #entry(row: number): WireEntry {
    const rows = this.#rows;
    const holder = rows.holders[row] as Holder;
    const registered = rows.registered[row] as number;
    const changed = rows.changed[row] as number;
    const registeredAt = new Date(registered);
    return {
      moniker: rows.monikers[row] as string,
      pid: holder.pid,
      endpoint: holder.path,
      object: rows.objects[row] as number,
      methods: holder.methods,
      metadata: rows.metadata.get(row) ?? NO_METADATA,
      registeredAt,
      // One Date where both are the same instant, as a fresh registration's are.
      changedAt: changed === registered ? registeredAt : new Date(changed),
    };
  }

  /** Puts `entry` in the table; returns it. */
  #insert(owner: OwnerId, entry: WireEntry): WireEntry {
    const holder = this.#holder(entry.pid, entry.endpoint, entry.methods);
    const row = this.#rows.add(
      entry.moniker,
      owner,
      holder,
      entry.object,
      entry.registeredAt.getTime(),
      entry.changedAt.getTime(),
    );
    if (!isEmpty(entry.metadata)) this.#rows.metadata.set(row, entry.metadata);
    this.#index.set(entry.moniker, row);
    this.#order.insert(row, entry.moniker);
    let owned = this.#byOwner.get(owner);
    if (!owned) {
      owned = [];
      this.#byOwner.set(owner, owned);
    }
    this.#rows.ownerSlots[row] = owned.push(row) - 1;
    // Of `entry` the table keeps its metadata and nothing else: it goes back to the caller as it came.
    this.#notify('registered', entry);
    return entry;
  }

  /** The holder of entries of this endpoint and method list, shared with any others. */
  #holder(pid: number, path: string, methods: string[]): Holder {
    const endpointKey = `${pid}\0${path}`;
    const key = `${endpointKey}\0${methods.join('\0')}`;
    const known = this.#holders.get(key);
    if (known) {
      known.users++;
      return known;
    }
    let endpoint = this.#endpoints.get(endpointKey);
    if (endpoint) endpoint.users++;
    else {
      endpoint = { id: this.#nextEndpoint++, key: endpointKey, users: 1 };
      this.#endpoints.set(endpointKey, endpoint);
    }
    const holder: Holder = { pid, path, methods: [...methods], endpoint, key, users: 1, batch: 0, list: 0 };
    this.#holders.set(key, holder);
    return holder;
  }

  #release(holder: Holder): void {
    if (--holder.users > 0) return;
    this.#holders.delete(holder.key);
    if (--holder.endpoint.users === 0) this.#endpoints.delete(holder.endpoint.key);
  }

  #remove(row: number): void {
    const rows = this.#rows;
    const moniker = rows.monikers[row] as string;
    this.#release(rows.holders[row] as Holder);
    this.#index.delete(moniker);
    this.#order.remove(moniker);
    // Out of its owner's rows: the last one takes its place.
    const owned = this.#byOwner.get(rows.owners[row] as OwnerId);
    if (owned) {
      const slot = rows.ownerSlots[row] as number;
      const last = owned.pop() as number;
      if (last !== row) {
        owned[slot] = last;
        rows.ownerSlots[last] = slot;
      }
      if (owned.length === 0) this.#byOwner.delete(rows.owners[row] as OwnerId);
    }
    rows.remove(row);
  }

  #notify(type: TableEventType, entry: WireEntry): void {
    for (const watcher of this.#watchers) {
      if (entry.moniker.startsWith(watcher.prefix)) watcher.listener(type, entry);
    }
  }
}
