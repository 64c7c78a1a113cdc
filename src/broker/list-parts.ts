// A large List asked `parts` answered in parts (protocol.ts ListPart): each part is handed to the
// connection as soon as it is written and the next is written a tick later, once the transport
// has written that one to the socket, so that the client reads one part while the broker writes
// the next. The table must not change between the parts: they run in one stretch of nextTick
// callbacks, with no I/O between them, and the session holds its connection's later messages.

import { RuntableError } from '../errors.js';
import { encodeReply } from '../wire/codec.js';
import type { Connection } from '../wire/connection.js';
import { Kind } from '../wire/protocol.js';
import type { ObjectTable } from './table.js';

/** Rows per ListPart: about 37 KB for short monikers, under a transfer's 64 KiB chunk. */
export const LIST_PART_ROWS = 1000;

/**
 * Sends rows `start` to `end` of the table's moniker order (ObjectTable.range) as ListParts of
 * LIST_PART_ROWS rows, the last of them as the Reply to List `id`; calls `done` once the Reply has
 * been handed over, or the connection has closed.
 */
export function listInParts(
  table: ObjectTable,
  connection: Connection,
  id: number,
  start: number,
  end: number,
  done: () => void,
): void {
  const total = end - start;
  let at = start;
  let part = 0;
  const step = () => {
    if (connection.closed) {
      done();
      return;
    }
    try {
      const to = Math.min(at + LIST_PART_ROWS, end);
      const batch = table.packRange(at, to, connection, { rows: total, continued: part > 0 });
      at = to;
      if (at === end) {
        batch.parts = part;
        connection.reply(id, batch);
        done();
        return;
      }
      batch.part = part;
      connection.sendListPart(id, batch);
      part++;
    } catch (error) {
      if (!(error instanceof RuntableError)) throw error;
      connection.replyError(id, error);
      done();
      return;
    }
    // Queued after the transport's flush of this part (scheduled by send), so this part is out first.
    process.nextTick(step);
  };
  step();
}

/**
 * The List of `table` under `prefix` in parts of `rows` rows, packed and encoded as listInParts
 * sends them but sent nowhere: the broker's List rehearsal (rehearsal.ts) warms this code with it.
 */
export function rehearseInParts(table: ObjectTable, prefix: string, id: number, rows: number): void {
  const [start, end] = table.range(prefix);
  for (let at = start, part = 0; at < end; at += rows, part++) {
    const to = Math.min(at + rows, end);
    const batch = table.packRange(at, to, undefined, { rows: end - start, continued: part > 0 });
    if (to < end) encodeReply(id, { ...batch, part }, undefined, true, Kind.ListPart);
    else encodeReply(id, { ...batch, parts: part }, undefined, true);
  }
}
