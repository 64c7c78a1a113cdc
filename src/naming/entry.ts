// The public face of a table entry: what list, lookup and watch hand to users. The wire form
// carries the endpoint address as well, which only the call machinery needs.

import type { TableEventType, WireEntry } from '../wire/protocol.js';

export interface Entry {
  moniker: string;
  /** Process id of the owner. */
  pid: number;
  methods: string[];
  metadata: Record<string, unknown>;
  registeredAt: Date;
  /** Last registration or touch (COM's NoteChangeTime). */
  changedAt: Date;
}

export interface TableEvent {
  type: TableEventType;
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

/** What table.watch() returns: an async iterator whose return() ends the watch. */
export interface TableWatch extends AsyncIterableIterator<TableEvent> {
  return(): Promise<IteratorResult<TableEvent>>;
}
