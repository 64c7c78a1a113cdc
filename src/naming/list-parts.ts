// A List answered in parts (protocol.ts ListPart): each part's entries are read as it arrives,
// while the broker writes the next, and the Reply's rows come last. A part that arrives out of
// turn (one large enough to be chunked, overtaken by a smaller one) waits for its turn, and a
// Reply that overtakes parts waits for them.
//
// Each part's entries go into an array of their own, joined into the List's array once the Reply
// is in, and the parts' array is emptied. One array grown through the List and returned stayed
// reachable from old objects after the List (this reader, its closure, their frames): an old
// object's slot keeps what it points to alive through every scavenge until a full collection, and
// each List's 4.5 MB of entries were copied and promoted after it (docs/PERFORMANCE.md, (e)
// Session 8).

import { RuntableError } from '../errors.js';
import { fail } from '../wire/validate.js';
import type { Entry } from './entry.js';
import { unpackPublicEntries } from './entry-batch.js';

export class ListInParts {
  /** The entries of the parts read so far, an array for each part, in order; emptied once read. */
  #parts: Entry[][] = [];
  /** The next part to read. */
  #next = 0;
  /** Parts that came before their turn, by number. */
  readonly #early = new Map<number, unknown>();
  /** The first fault found in a part: the List fails with it once its Reply is in. */
  #fault: unknown;
  /** Set while the Reply waits for parts still to come: how many, and whom to tell. */
  #awaited: { parts: number; whole: () => void; gone: (error: RuntableError) => void } | undefined;
  /** Set once the connection the parts come on has closed. */
  #lost: RuntableError | undefined;

  /** A ListPart's batch: read now if its turn has come, else kept until then. */
  add(part: number, batch: unknown): void {
    if (part < this.#next || this.#early.has(part)) {
      this.#fault ??= new RuntableError('PROTOCOL', `malformed message: part ${part} of a List came twice`);
      return;
    }
    if (part !== this.#next) {
      this.#early.set(part, batch);
      return;
    }
    this.#read(batch);
    for (let next = this.#early.get(this.#next); next !== undefined; next = this.#early.get(this.#next)) {
      this.#early.delete(this.#next);
      this.#read(next);
    }
    if (this.#awaited !== undefined && this.#next >= this.#awaited.parts) this.#awaited.whole();
  }

  /**
   * The List's entries once its Reply (`value`, an EntryBatch, with `parts` from a broker that
   * sent parts) has come: every part's, then the Reply's own. Rejects with TABLE_UNAVAILABLE if
   * the connection closes (lost()) while parts are still to come.
   */
  async finish(value: unknown): Promise<Entry[]> {
    const parts = (value as { parts?: unknown } | null)?.parts ?? 0;
    if (typeof parts !== 'number' || !Number.isSafeInteger(parts) || parts < 0) fail('parts must be a count');
    if (this.#next + this.#early.size > parts) fail(`a List's Reply counts ${parts} parts, and more came`);
    if (this.#next < parts) await this.#rest(parts);
    if (this.#fault !== undefined) throw this.#fault;
    const read = this.#parts;
    this.#parts = [];
    const last = unpackPublicEntries(value);
    if (read.length === 0) return last;
    read.push(last);
    const all = joined(read);
    // This array may be old by now (promoted with this reader): emptied, it holds no entry alive.
    read.length = 0;
    return all;
  }

  /**
   * The connection closed: a List still waiting for parts fails. Told by the connection's owner,
   * not by a reaction on its close promise, which would keep every such List until it closes.
   */
  lost(): void {
    this.#lost ??= new RuntableError('TABLE_UNAVAILABLE', 'the broker went away during a List');
    this.#awaited?.gone(this.#lost);
  }

  #rest(parts: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#lost) reject(this.#lost);
      else this.#awaited = { parts, whole: resolve, gone: reject };
    });
  }

  #read(batch: unknown): void {
    this.#next++;
    if (this.#fault !== undefined) return;
    try {
      this.#parts.push(unpackPublicEntries(batch));
    } catch (error) {
      this.#fault = error;
    }
  }
}

/** The parts' entries in one array, allocated at its size. */
function joined(parts: Entry[][]): Entry[] {
  let count = 0;
  for (const part of parts) count += part.length;
  const all: Entry[] = new Array(count);
  let at = 0;
  for (const part of parts) for (let i = 0; i < part.length; i++) all[at++] = part[i] as Entry;
  return all;
}
