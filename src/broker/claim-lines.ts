// The line of would-be owners per moniker in the broker's table (table.ts): claims queued for a
// taken moniker, first come first served, and which monikers each owner waits for. The table asks
// it who comes next when a moniker is freed; it inserts the promoted claim through the table.

import type { WireEntry } from '../wire/protocol.js';
import type { OwnerId } from './entry-columns.js';

/** An owner and its entry: a moniker's holder, or a claim waiting in its line. */
export interface Claim {
  owner: OwnerId;
  entry: WireEntry;
}

/** What the lines need of their table. */
export interface LineTable {
  /** Whether `moniker` is held. */
  has(moniker: string): boolean;
  /** Puts `entry` in the table for `owner`; returns it. */
  insert(owner: OwnerId, entry: WireEntry): WireEntry;
  /** The clock that dates a promotion. */
  now(): Date;
}

export class ClaimLines {
  /**
   * Would-be owners per moniker, first come first served. Never empty when present; the moniker
   * is taken, except for claims held on a free one (see `hold`) until `handOverFree`.
   */
  readonly #lines = new Map<string, Claim[]>();
  /** The monikers each owner waits for. */
  readonly #waiting = new Map<OwnerId, Set<string>>();
  readonly #table: LineTable;

  constructor(table: LineTable) {
    this.#table = table;
  }

  /** Whether `owner` waits in line for `moniker`. */
  waits(owner: OwnerId, moniker: string): boolean {
    return this.#waiting.get(owner)?.has(moniker) ?? false;
  }

  /** How many monikers `owner` waits in line for. */
  queuedBy(owner: OwnerId): number {
    return this.#waiting.get(owner)?.size ?? 0;
  }

  /** The monikers `owner` waits in line for, as a copy. */
  waitingFor(owner: OwnerId): string[] {
    return [...(this.#waiting.get(owner) ?? [])];
  }

  /** The claims waiting for `moniker`, next first. */
  line(moniker: string): Claim[] {
    return [...(this.#lines.get(moniker) ?? [])];
  }

  /** Every moniker someone waits in line for, with its claims next first. */
  lines(): [string, readonly Claim[]][] {
    return [...this.#lines.entries()];
  }

  /** Puts a claim at the back of its moniker's line; returns its place. */
  enqueue(owner: OwnerId, entry: WireEntry): number {
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
  promote(moniker: string): Claim | undefined {
    const line = this.#lines.get(moniker);
    const claim = line?.shift();
    if (!line || !claim) return undefined;
    if (line.length === 0) this.#lines.delete(moniker);
    this.#forget(claim.owner, moniker);
    const now = this.#table.now();
    const entry = this.#table.insert(claim.owner, { ...claim.entry, registeredAt: now, changedAt: now });
    return { owner: claim.owner, entry };
  }

  /** `owner` leaves the line for `moniker`; returns its claim, if it was in it. */
  leave(owner: OwnerId, moniker: string): Claim | undefined {
    const line = this.#lines.get(moniker);
    const index = line?.findIndex((claim) => claim.owner === owner) ?? -1;
    if (!line || index < 0) return undefined;
    const [claim] = line.splice(index, 1);
    if (line.length === 0) this.#lines.delete(moniker);
    this.#forget(owner, moniker);
    return claim;
  }

  /** Ends every `hold`: each free moniker with a line goes to its first claim. */
  handOverFree(): Claim[] {
    const promoted: Claim[] = [];
    for (const moniker of [...this.#lines.keys()]) {
      if (this.#table.has(moniker)) continue;
      const claim = this.promote(moniker);
      if (claim) promoted.push(claim);
    }
    return promoted;
  }

  #forget(owner: OwnerId, moniker: string): void {
    const waiting = this.#waiting.get(owner);
    waiting?.delete(moniker);
    if (waiting?.size === 0) this.#waiting.delete(owner);
  }
}
