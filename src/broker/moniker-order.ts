// The table's rows in code-unit order of moniker, so that the monikers under a prefix are one
// contiguous run, found by bisection: what List, ListNames and a watch's snapshot read, in the
// broker (table.ts).

export class MonikerOrder {
  /** Every row, in code-unit order of moniker. */
  readonly rows: number[] = [];
  /** The table's moniker column (entry-columns.ts), read by row. */
  readonly #monikers: readonly string[];

  constructor(monikers: readonly string[]) {
    this.#monikers = monikers;
  }

  get length(): number {
    return this.rows.length;
  }

  /** Puts `row`, whose moniker is `moniker`, in its place. */
  insert(row: number, moniker: string): void {
    this.rows.splice(this.lowerBound(moniker), 0, row);
  }

  /** Takes out the row of `moniker`, which must be in the order. */
  remove(moniker: string): void {
    this.rows.splice(this.lowerBound(moniker), 1);
  }

  /** Where the monikers under `prefix` lie in the order: [start, end). */
  range(prefix: string): [start: number, end: number] {
    const start = this.lowerBound(prefix);
    return [start, this.endOfRun(start, prefix)];
  }

  /**
   * Index after the run of monikers under `prefix` that begins at `start`, found by bisection:
   * those monikers sort together, right from the first one not less than the prefix.
   */
  endOfRun(start: number, prefix: string): number {
    const monikers = this.#monikers;
    const rows = this.rows;
    let low = start;
    let high = rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((monikers[rows[mid] as number] as string).startsWith(prefix)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Index of the first moniker not less than `key`. */
  lowerBound(key: string): number {
    const monikers = this.#monikers;
    const rows = this.rows;
    let low = 0;
    let high = rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((monikers[rows[mid] as number] as string) < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
