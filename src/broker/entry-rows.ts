// The broker's side of EntryBatch (protocol.ts): BatchWriter writes the rows' CBOR straight into
// one buffer, from the table's columns (table.ts), with no object per row; EntryRows packs a
// batch from WireEntry objects (the golden vectors, tests). The bytes are what the codec writes
// for the same array of rows (test/wire/entry-batch.test.ts compares them).

import { encode } from '../wire/codec.js';
import type { BatchOwner, EntryBatch, WireEntry } from '../wire/protocol.js';
import type { OwnerId } from './table.js';

/** Bytes a row takes besides its moniker's and its metadata's: heads, three uints, two float64s. */
const ROW_BYTES = 1 + 5 + 3 * 9 + 2 * 9;

function isEmpty(map: Record<string, unknown>): boolean {
  for (const _ in map) return false;
  return true;
}

/** One batch being written: its owners, and the CBOR of its array of rows. */
export class BatchWriter {
  readonly #owners: Record<number, BatchOwner> = {};
  #buffer: Buffer;
  #position = 0;

  /** A batch of `count` rows: exactly that many `row` calls follow. */
  constructor(count: number) {
    // Most rows take less than this (a short moniker, two dates); #room grows it for the others.
    this.#buffer = Buffer.allocUnsafe(64 + count * 48);
    this.#head(0x80, count);
  }

  /** Adds `methods` to owner `id`'s method lists (adding the owner on first use); returns its index. */
  methodList(id: number, pid: number, endpoint: string, methods: string[]): number {
    let owner = this.#owners[id];
    if (!owner) {
      owner = [pid, endpoint, []];
      this.#owners[id] = owner;
    }
    return owner[2].push(methods) - 1;
  }

  row(
    moniker: string,
    owner: number,
    object: number,
    methodList: number,
    registeredAt: number,
    changedAt: number,
    metadata?: Record<string, unknown>,
  ): void {
    const extra = metadata === undefined || isEmpty(metadata) ? undefined : encode(metadata);
    this.#room(ROW_BYTES + moniker.length * 3 + (extra?.length ?? 0));
    const b = this.#buffer;
    b[this.#position++] = extra ? 0x87 : 0x86;
    this.#text(moniker);
    this.#number(owner);
    this.#number(object);
    this.#number(methodList);
    this.#number(registeredAt);
    this.#number(changedAt);
    if (extra) {
      b.set(extra, this.#position);
      this.#position += extra.length;
    }
  }

  finish(): EntryBatch {
    const b = this.#buffer;
    // A Uint8Array, not a Buffer: the two encode differently (tag 64), and the wire has this one.
    return { owners: this.#owners, rows: new Uint8Array(b.buffer, b.byteOffset, this.#position) };
  }

  #room(bytes: number): void {
    if (this.#position + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#position + bytes));
    this.#buffer.copy(grown, 0, 0, this.#position);
    this.#buffer = grown;
  }

  /** An item head with a uint argument below 2³², as the codec writes it. */
  #head(major: number, value: number): void {
    const b = this.#buffer;
    let p = this.#position;
    if (value < 0x18) b[p++] = major | value;
    else if (value < 0x100) {
      b[p++] = major | 0x18;
      b[p++] = value;
    } else if (value < 0x10000) {
      b[p++] = major | 0x19;
      b[p++] = value >> 8;
      b[p++] = value & 0xff;
    } else {
      b[p++] = major | 0x1a;
      b.writeUInt32BE(value, p);
      p += 4;
    }
    this.#position = p;
  }

  /** A number as the codec writes it (cbor-encode.ts): integers within 32 bits as such, others (a date's ms) as float64. */
  #number(value: number): void {
    if (value >>> 0 === value) this.#head(0x00, value);
    else if (value >> 0 === value) this.#head(0x20, ~value);
    else if (value < 0 && value >= -0x1_0000_0000 && Math.floor(value) === value) {
      this.#buffer[this.#position++] = 0x3a;
      this.#buffer.writeUInt32BE(-1 - value, this.#position);
      this.#position += 4;
    } else {
      this.#buffer[this.#position++] = 0xfb;
      this.#buffer.writeDoubleBE(value, this.#position);
      this.#position += 8;
    }
  }

  /** Text: an ASCII string byte by byte, anything else as the codec writes it. */
  #text(value: string): void {
    const b = this.#buffer;
    const length = value.length;
    const at = this.#position;
    this.#head(0x60, length);
    let p = this.#position;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        const encoded = encode(value);
        b.set(encoded, at);
        this.#position = at + encoded.length;
        return;
      }
      b[p++] = c;
    }
    this.#position = p;
  }
}

/** One owner endpoint as EntryRows names it. */
interface OwnerRecord {
  id: number;
  pid: number;
  endpoint: string;
}

/** Packs batches from WireEntry objects, naming each owner endpoint by a number of its own. */
export class EntryRows {
  /** Per control connection, its endpoints by path. */
  readonly #owners = new Map<OwnerId, Map<string, OwnerRecord>>();
  #nextId = 1;

  /** The batch of `claims`, in their order. */
  pack(claims: readonly { owner: OwnerId; entry: WireEntry }[]): EntryBatch {
    const writer = new BatchWriter(claims.length);
    const lists = new Map<string, number>();
    for (const { owner, entry } of claims) {
      const record = this.#record(owner, entry);
      const key = `${record.id} ${JSON.stringify(entry.methods)}`;
      let list = lists.get(key);
      if (list === undefined) {
        list = writer.methodList(record.id, record.pid, record.endpoint, entry.methods);
        lists.set(key, list);
      }
      writer.row(
        entry.moniker,
        record.id,
        entry.object,
        list,
        entry.registeredAt.getTime(),
        entry.changedAt.getTime(),
        entry.metadata,
      );
    }
    return writer.finish();
  }

  #record(owner: OwnerId, entry: WireEntry): OwnerRecord {
    let endpoints = this.#owners.get(owner);
    if (!endpoints) {
      endpoints = new Map();
      this.#owners.set(owner, endpoints);
    }
    let record = endpoints.get(entry.endpoint);
    if (!record || record.pid !== entry.pid) {
      record = { id: this.#nextId++, pid: entry.pid, endpoint: entry.endpoint };
      endpoints.set(entry.endpoint, record);
    }
    return record;
  }
}
