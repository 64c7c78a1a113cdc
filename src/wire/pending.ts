// The requests a connection has sent and not yet had answered: each settles exactly once, by its
// answer, its timeout, its abort signal or the connection's end. Requests with the connection's
// default timeout expire in order, so one timer serves them all.

import { type RuntableError, signalError } from '../errors.js';
import { hold, release } from '../transport/keep-alive.js';

/** setTimeout cannot wait longer; requests with a longer timeout get no timer at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Turns a failure into the request's outcome: its return value settles the request, what it throws rejects it. */
export type Recover = (error: RuntableError) => unknown;

/** Makes the error a request fails with, where the caller's stack can be seen (see failThrough). */
export type Restack = (error: Error) => unknown;

/**
 * One request in flight. A class with every field set in the constructor, so that all records
 * share one shape; the hot path allocates this, the promise and nothing else (no closures).
 */
class Pending {
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
    readonly deadline: number,
    /** Expired by the shared timer: the request has the default timeout. */
    readonly shared: boolean,
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

// new Promise's executor, shared: a closure per request would be one more object for the collector.
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (error: Error) => void = () => {};
function capture(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export class PendingRequests {
  readonly #defaultTimeout: number;
  readonly #timeoutError: (timeout: number) => RuntableError;
  /** Tells the peer that a cancellable request `id` was given up (timeout or abort). */
  readonly #cancel: (id: number) => void;
  /** Oldest first: ids are handed out in order, so default-timeout deadlines come in order too. */
  readonly #pending = new Map<number, Pending>();
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
    return this.#pending.size;
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
    const promise = new Promise(capture);
    const shared = timeout === this.#defaultTimeout && timeout <= MAX_TIMER_MS;
    const pending = new Pending(
      capturedResolve,
      capturedReject,
      Date.now() + timeout,
      shared,
      cancellable,
      recover,
      restack,
      undefined,
      undefined,
      undefined,
    );
    this.#pending.set(id, pending);
    // Someone waits for this answer: the process must live to get it (settle releases).
    hold();
    if (timeout > MAX_TIMER_MS) {
      // No timer: setTimeout would fire at once for delays past 2^31 - 1 ms.
    } else if (shared) {
      if (!this.#timer) this.#arm();
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
    const pending = this.#pending.get(id);
    if (pending === undefined) return false;
    this.#pending.delete(id);
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
        pending.resolve(pending.recover(error as RuntableError));
        return true;
      } catch (thrown) {
        failure = thrown as Error;
      }
    }
    if (pending.restack === undefined) pending.reject(failure);
    else failThrough(pending.resolve, failure, pending.restack);
    return true;
  }

  /** The connection ended: every request fails with `reason`, at once. */
  rejectAll(reason: RuntableError): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const id of [...this.#pending.keys()]) this.settle(id, undefined, reason);
  }

  #expire(id: number, timeout: number): void {
    const cancellable = this.#pending.get(id)?.cancellable;
    if (this.settle(id, undefined, this.#timeoutError(timeout)) && cancellable) this.#cancel(id);
  }

  /** The oldest request under the shared timer, if any. */
  #nextShared(): Pending | undefined {
    for (const pending of this.#pending.values()) if (pending.shared) return pending;
    return undefined;
  }

  #arm(): void {
    const first = this.#nextShared();
    if (!first) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(
      () => {
        const now = Date.now();
        for (const [id, pending] of this.#pending) {
          if (!pending.shared) continue;
          if (pending.deadline > now) break;
          this.#expire(id, this.#defaultTimeout);
        }
        this.#arm();
      },
      Math.max(0, first.deadline - Date.now()),
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
