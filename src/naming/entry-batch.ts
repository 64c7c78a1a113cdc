// Reading an EntryBatch (protocol.ts), the compact form in which List answers and Watch
// snapshots arrive: checked and unpacked in one pass, by entry-rows-reader.ts for rows as the JS
// broker writes them, else by a generic decode. The broker's side is broker/entry-rows.ts.

import { decode } from '../wire/codec.js';
import type { BatchOwner, EntryRow, WireEntry } from '../wire/protocol.js';
import { fail, isPlainMap } from '../wire/validate.js';
import type { Entry } from './entry.js';
import { type RowBuilder, readRows } from './entry-rows-reader.js';

function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkOwner(owner: unknown): asserts owner is BatchOwner {
  if (
    !Array.isArray(owner) ||
    !isUint(owner[0]) ||
    typeof owner[1] !== 'string' ||
    !Array.isArray(owner[2]) ||
    !owner[2].every((list) => Array.isArray(list) && list.every((name) => typeof name === 'string'))
  ) {
    fail('a batch owner must be [pid, endpoint, method lists]');
  }
}

function checkRow(row: unknown, owners: Record<string, BatchOwner>): asserts row is EntryRow {
  if (
    !Array.isArray(row) ||
    (row.length !== 6 && row.length !== 7) ||
    typeof row[0] !== 'string' ||
    !isUint(row[1]) ||
    !Object.hasOwn(owners, row[1]) ||
    !isUint(row[2]) ||
    !isUint(row[3]) ||
    row[3] >= (owners[row[1]] as BatchOwner)[2].length ||
    !isTime(row[4]) ||
    !isTime(row[5]) ||
    (row.length === 7 && !isPlainMap(row[6]))
  ) {
    fail('malformed entry row');
  }
}

/** Appends the batch's entries to `out` and returns it. */
function unpack<T>(value: unknown, build: RowBuilder<T>, out: T[] = []): T[] {
  if (typeof value !== 'object' || value === null) fail('an entry batch must be a map');
  const { owners, rows: bytes } = value as Record<string, unknown>;
  if (!isPlainMap(owners) || !(bytes instanceof Uint8Array)) fail('an entry batch needs owners and rows');
  const byKey = new Map<number, BatchOwner>();
  for (const key in owners) {
    const owner = owners[key];
    checkOwner(owner);
    // Rows name an owner by a number: the key that is its decimal digits.
    if (String(Number(key)) === key) byKey.set(Number(key), owner);
  }
  if (readRows(bytes, byKey, build, out)) return out;
  let rows: unknown;
  try {
    rows = decode(bytes);
  } catch (error) {
    fail(`undecodable entry rows: ${(error as Error).message}`);
  }
  if (!Array.isArray(rows)) fail('entry rows must be an array');
  const checked = owners as Record<string, BatchOwner>;
  for (const row of rows) checkRow(row, checked);
  for (const row of rows as EntryRow[]) {
    out.push(build(row[0], checked[row[1]] as BatchOwner, row[2], row[3], row[4], row[5], row[6]));
  }
  return out;
}

/** The batch's entries as the call machinery keeps them; throws PROTOCOL on anything malformed. */
export function unpackEntries(value: unknown): WireEntry[] {
  return unpack(
    value,
    (moniker, [pid, endpoint, methodLists], object, methodList, registeredAt, changedAt, metadata) => ({
      moniker,
      pid,
      endpoint,
      object,
      methods: methodLists[methodList] as string[],
      metadata: metadata ?? {},
      registeredAt: new Date(registeredAt),
      changedAt: new Date(changedAt),
    }),
  );
}

const publicEntry: RowBuilder<Entry> = (
  moniker,
  [pid, , methodLists],
  _object,
  methodList,
  registeredAt,
  changedAt,
  metadata,
) => ({
  moniker,
  pid,
  methods: (methodLists[methodList] as string[]).slice(),
  metadata: metadata ?? {},
  registeredAt: new Date(registeredAt),
  changedAt: new Date(changedAt),
});

/**
 * The batch's entries as users see them, each with arrays of its own, appended to `out` (the
 * entries of a List's earlier parts) if given.
 */
export function unpackPublicEntries(value: unknown, out?: Entry[]): Entry[] {
  return unpack(value, publicEntry, out);
}
