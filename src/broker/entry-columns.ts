// How the broker's table keeps its entries: as rows of columns, with what the entries of one
// owner endpoint share (Holder, EndpointRecord) held once. The table (table.ts) decides what goes
// in and out; this file only stores it compactly.

/** Identifies an owner: the broker uses one per control connection. */
export type OwnerId = number;

/**
 * What the entries of one owner endpoint with one method list share: 10,000 entries of a few
 * owners hold a few of these. `endpoint` is the batch owner (pid and endpoint path) it belongs to.
 */
export interface Holder {
  readonly pid: number;
  readonly path: string;
  readonly methods: string[];
  readonly endpoint: EndpointRecord;
  /** Its key in the table's map of holders. */
  readonly key: string;
  users: number;
  /** The last batch that listed it (`ObjectTable.#batches`), and its method list's index there. */
  batch: number;
  list: number;
}

/** One owner endpoint (pid and socket path) as batches name it. */
export interface EndpointRecord {
  /** Its key in EntryBatch.owners: unique for the broker's life. */
  readonly id: number;
  readonly key: string;
  users: number;
}

export function isEmpty(object: Record<string, unknown>): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * Entries as rows: row `r` is `monikers[r]`, `owners[r]`, ... Numbers sit unboxed in arrays of
 * numbers (a date is its milliseconds), so an entry costs its moniker, a few array slots and its
 * index entries, not eight objects. Rows of revoked entries are reused.
 */
export class Columns {
  readonly monikers: string[] = [];
  readonly owners: OwnerId[] = [];
  readonly holders: (Holder | undefined)[] = [];
  readonly objects: number[] = [];
  readonly registered: number[] = [];
  readonly changed: number[] = [];
  /** Where each row sits in its owner's list of rows (`ObjectTable.#byOwner`). */
  readonly ownerSlots: number[] = [];
  /** When each row was filled, counted: an owner's entries leave in the order they came. */
  readonly sequence: number[] = [];
  #filled = 0;
  /** Metadata of the rows that have some; most have none. */
  readonly metadata = new Map<number, Record<string, unknown>>();
  readonly free: number[] = [];

  add(moniker: string, owner: OwnerId, holder: Holder, object: number, registered: number, changed: number): number {
    const row = this.free.pop() ?? this.monikers.length;
    this.monikers[row] = moniker;
    this.owners[row] = owner;
    this.holders[row] = holder;
    this.objects[row] = object;
    this.registered[row] = registered;
    this.changed[row] = changed;
    this.ownerSlots[row] = 0;
    this.sequence[row] = this.#filled++;
    return row;
  }

  remove(row: number): void {
    // Slots keep their kind of value (a string, a number), so the arrays stay compact.
    this.monikers[row] = '';
    this.holders[row] = undefined;
    this.metadata.delete(row);
    this.free.push(row);
  }
}
