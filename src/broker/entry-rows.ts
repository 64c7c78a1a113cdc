// The broker's side of EntryBatch (protocol.ts): BatchWriter writes the rows' CBOR straight into
// one buffer, from the table's columns (table.ts), with no object per row; EntryRows packs a
// batch from WireEntry objects (the golden vectors, tests). The bytes are what the codec writes
// for the same array of rows (test/wire/entry-batch.test.ts compares them).

import { encode } from '../wire/codec.js';
import type { BatchOwner, EntryBatch, WireEntry } from '../wire/protocol.js';
import { isEmpty, type OwnerId } from './entry-columns.js';

/** Bytes a row takes besides its moniker's and its metadata's: heads, three uints, two float64s. */
const ROW_BYTES = 1 + 5 + 3 * 9 + 2 * 9;

/** A writer's buffer before its first batch. */
const NO_BUFFER = Buffer.alloc(0);
const NO_VIEW = new DataView(NO_BUFFER.buffer, NO_BUFFER.byteOffset, 0);

/**
 * One batch being written: its owners, and the CBOR of its array of rows. One writer may write
 * batch after batch (`begin`): the table keeps one, so that V8 keeps its shape, and the code
 * optimized for it, between Lists (a writer per List left the shape to die at a full collection
 * with no List running, and every optimized List function with it: docs/PERFORMANCE.md).
 */
export class BatchWriter {
  #owners: Record<number, BatchOwner> = {};
  #buffer: Buffer = NO_BUFFER;
  #view: DataView = NO_VIEW;
  /** Where this batch's rows begin in the buffer: after the batches before it, for a List in parts. */
  #start = 0;
  #position = 0;

  /** A writer of a batch of `count` rows, as `begin` starts one. */
  constructor(count = 0, reuse?: Buffer) {
    this.begin(count, reuse);
  }

  /**
   * Starts a batch of `count` rows: exactly that many `row` calls follow. Written into `reuse`
   * when it is large enough (the caller's buffer of an earlier batch, which this one then overwrites).
   */
  begin(count: number, reuse?: Buffer, sizeFor = count): void {
    // Most rows take less than this (a short moniker, two dates); #room grows it for the others.
    const want = 64 + sizeFor * 48;
    this.#owners = {};
    this.#buffer = reuse !== undefined && reuse.length >= want ? reuse : Buffer.allocUnsafe(want);
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
    this.#start = 0;
    this.#position = writeHead(this.#buffer, 0, 0x80, count);
  }

  /**
   * Starts the next batch of `count` rows after the last one, in the same buffer, leaving that
   * one's bytes as they are: the parts of one List (`sizeFor` in `begin` sized the buffer for all).
   */
  next(count: number): void {
    this.#owners = {};
    this.#room(9);
    this.#start = this.#position;
    this.#position = writeHead(this.#buffer, this.#position, 0x80, count);
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
    const length = moniker.length;
    this.#room(ROW_BYTES + length * 3 + (extra?.length ?? 0));
    const b = this.#buffer;
    let p = this.#position;
    b[p++] = extra ? 0x87 : 0x86;
    // The moniker: an ASCII one byte by byte, anything else as the codec writes it.
    const at = p;
    p = writeHead(b, p, 0x60, length);
    for (let i = 0; i < length; i++) {
      const c = moniker.charCodeAt(i);
      if (c >= 0x80) {
        const encoded = encode(moniker);
        b.set(encoded, at);
        p = at + encoded.length;
        break;
      }
      b[p++] = c;
    }
    p = writeNumber(b, p, owner);
    p = writeNumber(b, p, object);
    p = writeNumber(b, p, methodList);
    p = this.#date(p, registeredAt);
    p = this.#date(p, changedAt);
    if (extra) {
      b.set(extra, p);
      p += extra.length;
    }
    this.#position = p;
  }

  finish(): EntryBatch {
    const b = this.#buffer;
    // A Uint8Array, not a Buffer: the two encode differently (tag 64), and the wire has this one.
    return {
      owners: this.#owners,
      rows: new Uint8Array(b.buffer, b.byteOffset + this.#start, this.#position - this.#start),
    };
  }

  /** The buffer the rows are in (grown past the one given, for a large batch): to be reused. */
  get buffer(): Buffer {
    return this.#buffer;
  }

  /** A date's milliseconds as writeNumber writes them, a float64 through the DataView (no byte loop). */
  #date(p: number, value: number): number {
    if (Math.floor(value) === value && value >= -0x1_0000_0000 && value <= 0xffff_ffff) {
      return writeNumber(this.#buffer, p, value);
    }
    this.#buffer[p] = 0xfb;
    this.#view.setFloat64(p + 1, value);
    return p + 9;
  }

  #room(bytes: number): void {
    if (this.#position + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#position + bytes));
    this.#buffer.copy(grown, 0, 0, this.#position);
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }
}

/** An item head with an argument below 2³², as the codec writes it; returns the position after it. */
function writeHead(b: Uint8Array, p: number, major: number, value: number): number {
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
    b[p++] = value >>> 24;
    b[p++] = (value >> 16) & 0xff;
    b[p++] = (value >> 8) & 0xff;
    b[p++] = value & 0xff;
  }
  return p;
}

/** A float64's bytes, as the host holds them; the wire is big-endian. */
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A number as the codec writes it (cbor-encode.ts): integers within 32 bits as such, others (a date's ms) as float64. */
function writeNumber(b: Uint8Array, p: number, value: number): number {
  if (value >>> 0 === value) return writeHead(b, p, 0x00, value);
  if (value >> 0 === value) return writeHead(b, p, 0x20, ~value);
  // Below -2³¹, the argument takes four bytes: head 0x3a.
  if (value < 0 && value >= -0x1_0000_0000 && Math.floor(value) === value) return writeHead(b, p, 0x20, -1 - value);
  b[p++] = 0xfb;
  float[0] = value;
  if (LITTLE_ENDIAN) for (let i = 7; i >= 0; i--) b[p++] = floatBytes[i] as number;
  else for (let i = 0; i < 8; i++) b[p++] = floatBytes[i] as number;
  return p;
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
