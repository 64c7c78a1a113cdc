// A full collection when the broker falls quiet after a burst of work: the pages of garbage the
// burst promoted, and its Lists' dead buffers, are given back while nobody waits, instead of
// staying resident until a GC that a quiet broker would not run (docs/PERFORMANCE.md).

import v8 from 'node:v8';

/** Requests since the last collection that make one worth it when the broker goes quiet. */
export const GC_AFTER_REQUESTS = 1000;
/** How long with no request counts as quiet, ms. */
export const QUIET_MS = 50;

/** A full collection: V8's gc(), there when the broker runs with --expose-gc (naming/broker-start.ts). */
export type Collect = () => void;

/**
 * This process's gc(), if it has one, made compacting for that one call: compaction is what frees
 * the burst's pages, and V8's own full collections during a burst stay as cheap as before.
 */
export function exposedGc(): Collect | undefined {
  const gc = (globalThis as { gc?: Collect }).gc;
  if (gc === undefined) return undefined;
  return () => {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

/** Counts requests; collects once they pass GC_AFTER_REQUESTS and QUIET_MS pass with none. */
export class IdleCollector {
  readonly #collect: Collect | undefined;
  #requests = 0;
  /** #requests when the timer was armed: unchanged when it fires means quiet. */
  #seen = 0;
  #timer: NodeJS.Timeout | undefined;

  /** With no `collect`, note() is a counter and nothing more. */
  constructor(collect: Collect | undefined) {
    this.#collect = collect;
  }

  /** One request handled: a counter, and a timer armed once per burst. */
  note(): void {
    if (++this.#requests >= GC_AFTER_REQUESTS && this.#timer === undefined && this.#collect) this.#arm();
  }

  /** Whether a collection waits for the broker to go quiet. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#seen = this.#requests;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#requests !== this.#seen) {
        this.#arm();
        return;
      }
      this.#requests = 0;
      this.#collect?.();
    }, QUIET_MS);
    this.#timer.unref();
  }
}
