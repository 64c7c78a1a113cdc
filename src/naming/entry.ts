// The public face of a table entry: what list, lookup and watch hand to users. The wire form
// carries the endpoint address as well, which only the call machinery needs.

import type { TableEventType, WireEntry } from '../wire/protocol.js';

/** One entry of the table, as list, lookup and watch give it. */
export interface Entry {
  /** The name it is registered under. */
  moniker: string;
  /** Process id of the owner. */
  pid: number;
  /** The methods a client may call, sorted. */
  methods: string[];
  /** The owner's small JSON data (`register`'s `metadata`, or the last `touch` that set it). */
  metadata: Record<string, unknown>;
  /** When the owner registered it. */
  registeredAt: Date;
  /** Last registration or touch (COM's NoteChangeTime). */
  changedAt: Date;
}

/** One change seen by `table.watch()`. */
export interface TableEvent {
  /** `registered` (also for each entry there when the watch starts), `changed` (a touch), or `revoked`. */
  type: TableEventType;
  /** The entry as it is now; for `revoked`, as it was. */
  entry: Entry;
}

/** An entry as JSON gives it (the CLI's --json, the viewer): dates as ISO 8601 strings. */
export interface EntryJson {
  moniker: string;
  pid: number;
  methods: string[];
  metadata: Record<string, unknown>;
  registeredAt: string;
  changedAt: string;
}

export function entryJson(entry: Entry): EntryJson {
  return {
    moniker: entry.moniker,
    pid: entry.pid,
    methods: entry.methods,
    metadata: entry.metadata,
    registeredAt: entry.registeredAt.toISOString(),
    changedAt: entry.changedAt.toISOString(),
  };
}

export function toPublicEntry(wire: WireEntry): Entry {
  return {
    moniker: wire.moniker,
    pid: wire.pid,
    methods: [...wire.methods],
    metadata: wire.metadata,
    registeredAt: wire.registeredAt,
    changedAt: wire.changedAt,
  };
}

/** Same owner, same object: the entry survived (a broker restart, say), whatever its dates. */
export function sameRegistration(a: WireEntry, b: WireEntry): boolean {
  return a.pid === b.pid && a.endpoint === b.endpoint && a.object === b.object;
}

/**
 * What `table.watch()` returns: an async iterator of {@link TableEvent}s (use `for await`), whose
 * `return()` ends the watch. The iterator rejects with `TABLE_UNAVAILABLE` if the table closes.
 */
export interface TableWatch extends AsyncIterableIterator<TableEvent> {
  return(): Promise<IteratorResult<TableEvent>>;
}
