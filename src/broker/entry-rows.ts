// The broker's side of EntryBatch: each entry's row is encoded once, when it is first listed,
// and kept beside the entry; a List or a Watch snapshot then splices the rows it needs into one
// buffer. Entries are immutable (a touch makes a new one), so a kept row never goes stale. A row
// is kept as a latin1 string, one byte a character: about 60 bytes on the heap, where a
// Uint8Array of its own costs some 250 with its ArrayBuffer.

import { encode } from '../wire/codec.js';
import type { BatchOwner, EntryBatch, EntryRow, WireEntry } from '../wire/protocol.js';
import type { Claim, OwnerId } from './table.js';

/** One owner endpoint as batches name it. */
interface OwnerRecord {
  /** Its key in EntryBatch.owners: unique for the broker's life. */
  id: number;
  pid: number;
  endpoint: string;
  /** Every distinct list its entries had; kept until the owner goes (bounded by what it registered). */
  methodLists: string[][];
  /** JSON of a method list to its index in `methodLists`. */
  listIndex: Map<string, number>;
}

interface Row {
  /** The row's CBOR, a byte per character. */
  bytes: string;
  owner: OwnerRecord;
}

/** CBOR header of an array of `length` items (RFC 8949 major type 4). */
function arrayHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x80 | length);
  if (length < 0x100) return Uint8Array.of(0x98, length);
  if (length < 0x10000) return Uint8Array.of(0x99, length >> 8, length & 0xff);
  return Uint8Array.of(0x9a, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
}

function isEmpty(map: Record<string, unknown>): boolean {
  for (const _ in map) return false;
  return true;
}

export class EntryRows {
  readonly #rows = new WeakMap<WireEntry, Row>();
  /** Per control connection, its endpoints by path. */
  readonly #owners = new Map<OwnerId, Map<string, OwnerRecord>>();
  #nextId = 1;

  /** The batch of `claims`, in their order. */
  pack(claims: readonly Claim[]): EntryBatch {
    const owners: Record<number, BatchOwner> = {};
    const rows: string[] = new Array(claims.length);
    let bytes = 0;
    for (let i = 0; i < claims.length; i++) {
      const row = this.#row(claims[i] as Claim);
      rows[i] = row.bytes;
      bytes += row.bytes.length;
      const { owner } = row;
      // Method lists only grow, so the batch's copy is taken after every row that adds one.
      owners[owner.id] ??= [owner.pid, owner.endpoint, owner.methodLists];
    }
    const header = arrayHeader(rows.length);
    const buffer = Buffer.allocUnsafe(header.length + bytes);
    buffer.set(header, 0);
    let offset = header.length;
    for (const row of rows) offset += buffer.write(row, offset, row.length, 'latin1');
    // A Uint8Array, not a Buffer: the two encode differently (tag 64), and the wire has this one.
    return { owners, rows: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length) };
  }

  /** `owner` has gone, with all its entries. */
  forget(owner: OwnerId): void {
    this.#owners.delete(owner);
  }

  #row({ owner, entry }: Claim): Row {
    const known = this.#rows.get(entry);
    if (known) return known;
    const record = this.#record(owner, entry);
    const key = JSON.stringify(entry.methods);
    let methodList = record.listIndex.get(key);
    if (methodList === undefined) {
      methodList = record.methodLists.push(entry.methods) - 1;
      record.listIndex.set(key, methodList);
    }
    const fields: EntryRow = [
      entry.moniker,
      record.id,
      entry.object,
      methodList,
      entry.registeredAt.getTime(),
      entry.changedAt.getTime(),
    ];
    if (!isEmpty(entry.metadata)) fields.push(entry.metadata);
    // A copy as a string: the codec's output is a view into a buffer it shares between messages.
    const encoded = encode(fields);
    const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length).toString('latin1');
    const row = { bytes, owner: record };
    this.#rows.set(entry, row);
    return row;
  }

  #record(owner: OwnerId, entry: WireEntry): OwnerRecord {
    let endpoints = this.#owners.get(owner);
    if (!endpoints) {
      endpoints = new Map();
      this.#owners.set(owner, endpoints);
    }
    let record = endpoints.get(entry.endpoint);
    if (!record || record.pid !== entry.pid) {
      record = {
        id: this.#nextId++,
        pid: entry.pid,
        endpoint: entry.endpoint,
        methodLists: [],
        listIndex: new Map(),
      };
      endpoints.set(entry.endpoint, record);
    }
    return record;
  }
}
