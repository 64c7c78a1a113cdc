// The requests a connection has sent and not yet had answered: each settles exactly once, by its
// answer, its timeout, its abort signal or the connection's end. Requests with the connection's
// default timeout share one timer, armed for the earliest deadline.

import { type RuntableError, signalError } from '../errors.js';
import { hold, release } from '../transport/keep-alive.js';

/** setTimeout cannot wait longer; requests with a longer timeout get no timer at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Slots of the table of requests in flight at first; it doubles when half of them are taken. */
const INITIAL_SLOTS = 256;

/**
 * Turns a failure into the request's outcome: what recover() returns settles the request, what it
 * throws rejects it. An object, not a closure: a call's own record can be it (calls/proxy.ts).
 */
export interface Recover {
  recover(error: RuntableError): unknown;
}

/** Makes the error a request fails with, where the caller's stack can be seen (see failThrough). */
export type Restack = (error: Error) => unknown;

/**
 * One request in flight. A class with every field set in the constructor, so that all records
 * share one shape; the hot path allocates this, the promise and nothing else (no closures).
 */
class Pending {
  constructor(
    readonly id: number,
    /** Set by capture(), as its promise is made. */
    public resolve: (value: unknown) => void,
    public reject: (error: Error) => void,
    /** Expired by the shared timer (the request has the default timeout): when it was sent. */
    readonly sent: Sent | undefined,
    /** On timeout or abort, the peer is told (calls, whose methods may be stopped). */
    readonly cancellable: boolean,
    readonly recover: Recover | undefined,
    readonly restack: Restack | undefined,
    /** Only for requests whose timeout differs from the default. */
    public timer: NodeJS.Timeout | undefined,
    public signal: AbortSignal | undefined,
    public onAbort: (() => void) | undefined,
  ) {}
}

/**
 * When requests were sent: one clock reading for all those made in one run of JavaScript, read
 * in a microtask just after them (a reading per request cost about 30 to 60 ns here). A request
 * is thus timed from at most that run's end, when its bytes leave anyway: never early.
 */
class Sent {
  at = Number.NaN;
}

let sending: Sent | undefined;

function stampSent(): void {
  (sending as Sent).at = Date.now();
  sending = undefined;
}

function sentNow(): Sent {
  if (sending === undefined) {
    sending = new Sent();
    queueMicrotask(stampSent);
  }
  return sending;
}

const unset = () => {};
/** The request whose promise is being made: capture() gives it its resolving functions. */
let capturing: Pending | undefined;

// new Promise's executor, shared: a closure per request would be one more object for the collector.
// It stores into the fresh record: stores into module variables (the record's two functions, as
// before) pay a write barrier each; this pays one, for `capturing`.
function capture(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  const pending = capturing as Pending;
  pending.resolve = resolve;
  pending.reject = reject;
}

export class PendingRequests {
  readonly #defaultTimeout: number;
  readonly #timeoutError: (timeout: number) => RuntableError;
  /** Tells the peer that a cancellable request `id` was given up (timeout or abort). */
  readonly #cancel: (id: number) => void;
  /**
   * Requests by id, each in slot `id & mask`; one whose slot was taken (by a request still in
   * flight a whole table of ids earlier) waits in #overflow. Not a Map: a Map under constant
   * insertion and deletion is rebuilt every few dozen requests, and each old table links to its
   * successor and keeps its settled entries, a chain that made the young generation's collector
   * copy a quarter of all it allocated (every request's promise, message and reply among them).
   */
  #slots: (Pending | undefined)[] = new Array<Pending | undefined>(INITIAL_SLOTS).fill(undefined);
  #mask = INITIAL_SLOTS - 1;
  readonly #overflow = new Map<number, Pending>();
  #size = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    defaultTimeout: number,
    timeoutError: (timeout: number) => RuntableError,
    cancel: (id: number) => void = () => {},
  ) {
    this.#defaultTimeout = defaultTimeout;
    this.#timeoutError = timeoutError;
    this.#cancel = cancel;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * A promise for request `id`'s answer. `recover` turns a failure into the outcome (a retry's
   * promise, say): cheaper than a `.catch` on every request. `restack` makes the error it
   * finally fails with (see failThrough).
   */
  track(
    id: number,
    timeout: number,
    signal: AbortSignal | undefined,
    cancellable: boolean,
    recover: Recover | undefined,
    restack: Restack | undefined,
  ): Promise<unknown> {
    const shared = timeout === this.#defaultTimeout && timeout <= MAX_TIMER_MS;
    const pending = new Pending(
      id,
      unset,
      unset,
      shared ? sentNow() : undefined,
      cancellable,
      recover,
      restack,
      undefined,
      undefined,
      undefined,
    );
    capturing = pending;
    const promise = new Promise(capture);
    capturing = undefined;
    this.#add(pending);
    // Someone waits for this answer: the process must live to get it (settle releases).
    hold();
    if (timeout > MAX_TIMER_MS) {
      // No timer: setTimeout would fire at once for delays past 2^31 - 1 ms.
    } else if (shared) {
      // Later requests have later deadlines: an armed timer fires first already.
      if (!this.#timer) this.#arm(timeout);
    } else {
      pending.timer = setTimeout(() => this.#expire(id, timeout), timeout);
      pending.timer.unref();
    }
    if (signal) {
      const onAbort = () => {
        if (this.settle(id, undefined, abortError(signal)) && cancellable) this.#cancel(id);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.signal = signal;
      pending.onAbort = onAbort;
    }
    return promise;
  }

  /** Settles request `id`; false if it was settled already (or never existed). */
  settle(id: number, value: unknown, error: Error | undefined): boolean {
    const pending = this.#take(id);
    if (pending === undefined) return false;
    release();
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.signal !== undefined) pending.signal.removeEventListener('abort', pending.onAbort as () => void);
    if (error === undefined) {
      pending.resolve(value);
      return true;
    }
    let failure = error;
    if (pending.recover !== undefined) {
      try {
        pending.resolve(pending.recover.recover(error as RuntableError));
        return true;
      } catch (thrown) {
        failure = thrown as Error;
      }
    }
    if (pending.restack === undefined) pending.reject(failure);
    else failThrough(pending.resolve, failure, pending.restack);
    return true;
  }

  /** The connection ended: every request fails with `reason`, at once, oldest first. */
  rejectAll(reason: RuntableError): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const pending of this.#all()) this.settle(pending.id, undefined, reason);
  }

  #add(pending: Pending): void {
    if (this.#size >= this.#slots.length / 2) this.#grow();
    const slot = pending.id & this.#mask;
    if (this.#slots[slot] === undefined) this.#slots[slot] = pending;
    else this.#overflow.set(pending.id, pending);
    this.#size++;
  }

  /** Request `id`, removed; undefined if it is not in flight. */
  #take(id: number): Pending | undefined {
    const slot = id & this.#mask;
    const pending = this.#slots[slot];
    if (pending !== undefined && pending.id === id) {
      this.#slots[slot] = undefined;
      this.#size--;
      return pending;
    }
    if (this.#overflow.size === 0) return undefined;
    const waiting = this.#overflow.get(id);
    if (waiting === undefined) return undefined;
    this.#overflow.delete(id);
    this.#size--;
    return waiting;
  }

  #grow(): void {
    const all = this.#all();
    this.#slots = new Array<Pending | undefined>(this.#slots.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    this.#overflow.clear();
    this.#size = 0;
    for (const pending of all) this.#add(pending);
  }

  /** Every request in flight, oldest first. */
  #all(): Pending[] {
    const all: Pending[] = [];
    for (const pending of this.#slots) if (pending !== undefined) all.push(pending);
    for (const pending of this.#overflow.values()) all.push(pending);
    return all.sort((a, b) => a.id - b.id);
  }

  #expire(id: number, timeout: number): void {
    const slot = this.#slots[id & this.#mask];
    const cancellable = slot?.id === id ? slot.cancellable : this.#overflow.get(id)?.cancellable;
    if (this.settle(id, undefined, this.#timeoutError(timeout)) && cancellable) this.#cancel(id);
  }

  /** A shared request's deadline; one sent in this run of JavaScript (a retry) counts from now. */
  #deadline(sent: Sent, now: number): number {
    return (Number.isNaN(sent.at) ? now : sent.at) + this.#defaultTimeout;
  }

  /**
   * The shared timer, due in `delay` ms, for the earliest deadline. It fires about once per
   * default timeout: then it expires what is due and looks through the table for the next deadline.
   */
  #arm(delay: number): void {
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = Date.now();
        for (const pending of this.#all()) {
          if (pending.sent && this.#deadline(pending.sent, now) <= now) this.#expire(pending.id, this.#defaultTimeout);
        }
        // A request tracked meanwhile (a recover's retry) armed it again, maybe for a later deadline.
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = undefined;
        let next = Number.POSITIVE_INFINITY;
        for (const pending of this.#all()) {
          if (pending.sent) next = Math.min(next, this.#deadline(pending.sent, now));
        }
        if (next !== Number.POSITIVE_INFINITY) this.#arm(next - now);
      },
      Math.max(0, delay),
    );
    this.#timer.unref();
  }
}

/**
 * Fails the promise of `resolve` with `restack(error)`, made in a promise job chained to that
 * promise: V8's async stack traces then run the new error's stack through whoever awaits it, so
 * a failed call points at the line that made it. A successful request pays nothing for this (an
 * async function around every call, as before, cost about 400 bytes and one hop per call).
 */
export function failThrough(resolve: (value: unknown) => void, error: Error, restack: Restack): void {
  let open: () => void = () => {};
  const base = new Promise<void>((opened) => {
    open = opened;
  });
  // Adopted first, thrown after: the job that throws must find the caller's promise chained.
  resolve(
    base.then(() => {
      throw restack(error);
    }),
  );
  open();
}

/** A request's promise that fails at once: through `restack` where the request has one. */
export function failed(error: Error, restack: Restack | undefined): Promise<never> {
  if (restack === undefined) return Promise.reject(error);
  return new Promise<never>((resolve) => failThrough(resolve as (value: unknown) => void, error, restack));
}

export function abortError(signal: AbortSignal): RuntableError {
  return signalError(signal, 'the call');
}
