// How the table writes a List's batch (broker/entry-rows.ts) straight from its columns: one
// writer for the table's life, and one batch buffer reused from List to List once the last reply
// written from it has left, sent by the encoder as it is rather than copied.

import type { Buffer } from 'node:buffer';
import { sendUncopied } from '../wire/large-bytes.js';
import type { EntryBatch } from '../wire/protocol.js';
import type { Columns, Holder } from './entry-columns.js';
import { BatchWriter } from './entry-rows.js';

/** A batch buffer up to this size is kept for the next List (4 MiB: about 80,000 short entries). */
const MAX_KEPT_BATCH_BYTES = 4 * 1024 * 1024;

/** The connection a batch is for, as `pack` sees it (a Connection, in the broker). */
export interface BatchReader {
  /**
   * Bytes queued for it and not yet written: 0 once every reply has left. Not `closed`: a
   * connection closed with linger (a peer dropped, told why) still writes what it had queued.
   */
  readonly pendingBytes: number;
}

/** Which part of a List a batch is: the List's rows in all, and whether a part came before. */
export interface ListPartOf {
  /** Rows of the whole List: its first part's buffer is sized for them all. */
  readonly rows: number;
  /** Written after the part before it, in the same buffer, rather than over it. */
  readonly continued: boolean;
}

const WHOLE: ListPartOf = { rows: 0, continued: false };

/** Packs the batches of one table's Lists. */
export class ListPacker {
  /** The buffer the last batch was written in, for the next (below MAX_KEPT_BATCH_BYTES). */
  #batchBuffer: Buffer | undefined;
  /** Who the last batch went to: its buffer is not reused while a reply to them may be on its way. */
  #batchReader: BatchReader | undefined;
  /** Writes every batch: one for the table's life (see BatchWriter). */
  readonly #writer = new BatchWriter();
  /** Batches packed so far: each one's number marks the holders it has listed. */
  #batches = 0;

  /**
   * The rows `sorted[start..end)` of `rows` as an EntryBatch, in the batch buffer (see
   * ObjectTable.pack for when it is reused).
   */
  pack(
    rows: Columns,
    sorted: readonly number[],
    start: number,
    end: number,
    reader?: BatchReader,
    part: ListPartOf = WHOLE,
  ): EntryBatch {
    // Not a callback: V8 would inline the one it saw, and drop the optimized pack when it died.
    const writer = this.#writer;
    if (part.continued) writer.next(end - start);
    else {
      const last = this.#batchReader;
      const free = last === undefined || last.pendingBytes === 0;
      writer.begin(end - start, free ? this.#batchBuffer : undefined, Math.max(end - start, part.rows));
    }
    this.#writeRows(rows, sorted, start, end);
    const buffer = writer.buffer;
    // One buffer serves every List once its reply has left, rather than a fresh one each (0.48
    // MiB for 10,000 entries), which a quiet broker frees late; and the reply sends it, not a copy.
    this.#batchBuffer = buffer.length <= MAX_KEPT_BATCH_BYTES ? buffer : undefined;
    this.#batchReader = reader;
    const packed = writer.finish();
    sendUncopied(packed.rows);
    return packed;
  }

  /**
   * The rows sorted from `start` to `end` into the writer's batch: the hot loop of `pack`, on its
   * own so that V8 optimizes it alone, from what only a table's columns feed it (the List
   * rehearsal's table warms it as well as the broker's: broker/rehearsal.ts).
   */
  #writeRows(rows: Columns, sorted: readonly number[], start: number, end: number): void {
    const writer = this.#writer;
    const batch = ++this.#batches;
    for (let i = start; i < end; i++) {
      const row = sorted[i] as number;
      const holder = rows.holders[row] as Holder;
      // A holder's method list goes into the batch with its first entry there.
      if (holder.batch !== batch) {
        holder.batch = batch;
        holder.list = writer.methodList(holder.endpoint.id, holder.pid, holder.path, holder.methods);
      }
      writer.row(
        rows.monikers[row] as string,
        holder.endpoint.id,
        rows.objects[row] as number,
        holder.list,
        rows.registered[row] as number,
        rows.changed[row] as number,
        rows.metadata.get(row),
      );
    }
  }
}
