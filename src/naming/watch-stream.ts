// One table.watch(): an async iterator of table events. It keeps the view its consumer has
// seen, so that after a broker restart it reports only what really changed: an entry whose
// owner is still alive is given a grace period to be registered again before it counts as gone.

import { RuntableError } from '../errors.js';
import { hold, release } from '../transport/keep-alive.js';
import type { TableEventType, WireEntry } from '../wire/protocol.js';
import type { NamingBackend, WatchSink } from './backend.js';
import { sameRegistration, type TableEvent, type TableWatch, toPublicEntry } from './entry.js';
import { isAlive } from './liveness.js';

/** After a broker restart, how long a live owner has to register its entry again. */
export const RESUME_GRACE_MS = 3000;
/** Events a consumer may leave unread before the watch fails rather than grow without bound. */
export const MAX_UNREAD_EVENTS = 100_000;

export class WatchStream implements WatchSink, TableWatch {
  readonly prefix: string;
  readonly #backend: NamingBackend;
  readonly #signal: AbortSignal | undefined;
  /** What the consumer has been told exists. */
  readonly #seen = new Map<string, WireEntry>();
  /** Entries missing after a restart whose owners may still register them again. */
  readonly #awaiting = new Map<string, WireEntry>();
  #graceTimer: NodeJS.Timeout | undefined;
  readonly #unread: TableEvent[] = [];
  /**
   * The next() calls waiting, oldest first. An event goes straight to the oldest: one promise
   * settles per event, and each of several next() calls in flight at once gets its own answer.
   * Events wait in #unread only while nobody waits (or the watch has not started).
   */
  readonly #waiting: Waiter[] = [];
  #started: Promise<void> | undefined;
  /**
   * Whether the watch has started: only then are events handed out, so that a consumer who has
   * seen the snapshot knows the watch is established (a watch that fails to start shows nothing).
   */
  #running = false;
  /** The failure to throw once the events before it are read. */
  #failure: { error: unknown } | undefined;
  #done = false;
  readonly #onAbort = () => void this.return();
  readonly #ended: (() => void) | undefined;
  readonly #holds: boolean;

  /**
   * `holds` false: a loop waiting here does not hold the process, for runtable's own watches
   * whose user holds for them (a following subscription).
   */
  constructor(backend: NamingBackend, prefix: string, signal?: AbortSignal, ended?: () => void, holds = true) {
    this.#backend = backend;
    this.prefix = prefix;
    this.#signal = signal;
    this.#ended = ended;
    this.#holds = holds;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * A next() left waiting holds the process (keep-alive.ts) until it is answered: a running watch
   * keeps a script alive, a watch left with `break` (or never iterated) does not.
   */
  next(): Promise<IteratorResult<TableEvent>> {
    if (this.#signal?.aborted) return this.return();
    if (!this.#done && !this.#started) {
      this.#started = this.#backend.watch(this);
      this.#started.then(
        () => this.#run(),
        (error: unknown) => {
          // The snapshot of a watch that did not start is not shown: its first next() throws.
          this.#unread.length = 0;
          this.fail(error);
          this.#run();
        },
      );
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    const answer = new Promise<IteratorResult<TableEvent>>((resolve, reject) => {
      if (this.#holds) hold();
      this.#waiting.push({ resolve, reject });
    });
    this.#deliver();
    return answer;
  }

  async return(): Promise<IteratorResult<TableEvent>> {
    if (!this.#done) {
      this.#done = true;
      this.#unread.length = 0;
      clearTimeout(this.#graceTimer);
      this.#signal?.removeEventListener('abort', this.#onAbort);
      for (const waiter of this.#waiting.splice(0)) this.#answer(waiter).resolve({ value: undefined, done: true });
      this.#ended?.();
      await this.#backend.unwatch(this);
    }
    return { value: undefined, done: true };
  }

  snapshot(entries: WireEntry[], resumed: boolean): void {
    if (!resumed) {
      for (const entry of entries) this.#emit('registered', entry);
      return;
    }
    const present = new Map(entries.map((entry) => [entry.moniker, entry]));
    for (const [moniker, old] of this.#seen) {
      if (present.has(moniker)) continue;
      if (isAlive(old.pid)) this.#awaiting.set(moniker, old);
      else this.#emit('revoked', old);
    }
    for (const entry of entries) this.event('registered', entry);
    if (this.#awaiting.size > 0) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = setTimeout(() => {
        for (const old of this.#awaiting.values()) this.#emit('revoked', old);
        this.#awaiting.clear();
      }, RESUME_GRACE_MS);
      this.#graceTimer.unref();
    }
  }

  event(type: TableEventType, entry: WireEntry): void {
    this.#awaiting.delete(entry.moniker);
    const seen = this.#seen.get(entry.moniker);
    if (type === 'registered' && seen) {
      // Known already: the same registration coming back after a restart is no news, unless it
      // changed meanwhile; a different owner under the same name is a revoke and a register.
      if (sameRegistration(seen, entry)) {
        if (seen.changedAt.getTime() !== entry.changedAt.getTime()) this.#emit('changed', entry);
        else this.#seen.set(entry.moniker, entry);
        return;
      }
      this.#emit('revoked', seen);
    }
    if (type === 'revoked' && !seen) return;
    this.#emit(type, entry);
  }

  fail(error: unknown): void {
    if (this.#done || this.#failure) return;
    this.#failure = { error };
    this.#deliver();
  }

  #run(): void {
    this.#running = true;
    this.#deliver();
  }

  /** Answers waiting next() calls, oldest first, with unread events, then with the failure. */
  #deliver(): void {
    if (!this.#running) return;
    while (this.#waiting.length > 0) {
      const event = this.#unread.shift();
      if (event) {
        this.#answer(this.#waiting.shift() as Waiter).resolve({ value: event, done: false });
        continue;
      }
      const failure = this.#failure;
      if (failure) {
        // The oldest waiter is told once the watch has ended; the rest see its end.
        this.#failure = undefined;
        const waiter = this.#answer(this.#waiting.shift() as Waiter);
        const told = () => waiter.reject(failure.error);
        this.return().then(told, told);
      }
      return;
    }
  }

  #emit(type: TableEventType, entry: WireEntry): void {
    if (this.#done) return;
    if (type === 'revoked') this.#seen.delete(entry.moniker);
    else this.#seen.set(entry.moniker, entry);
    if (this.#unread.length >= MAX_UNREAD_EVENTS) {
      this.fail(
        new RuntableError(
          'BAD_ARGUMENT',
          `watch of "${this.prefix}" has ${MAX_UNREAD_EVENTS} unread events; read faster`,
        ),
      );
      return;
    }
    this.#unread.push({ type, entry: toPublicEntry(entry) });
    this.#deliver();
  }

  /** A waiter about to be settled: its hold on the process ends with its wait. */
  #answer(waiter: Waiter): Waiter {
    if (this.#holds) release();
    return waiter;
  }
}

interface Waiter {
  resolve(result: IteratorResult<TableEvent>): void;
  reject(error: unknown): void;
}
