// The requests a connection has sent and not yet had answered: each settles exactly once, by its
// answer, its timeout, its abort signal or the connection's end. Requests with the connection's
// default timeout expire in order, so one timer serves them all.

import { type RuntableError, signalError } from '../errors.js';
import { hold, release } from '../transport/keep-alive.js';

/** setTimeout cannot wait longer; requests with a longer timeout get no timer at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  deadline: number;
  /** Expired by the shared timer: the request has the default timeout. */
  shared: boolean;
  /** Tells the peer the caller gave up; only for cancellable requests. */
  cancel: (() => void) | undefined;
  /** Only for requests whose timeout differs from the default. */
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
  recover: ((error: Error) => unknown) | undefined;
}

export interface TrackOptions {
  timeout: number;
  signal: AbortSignal | undefined;
  cancel: (() => void) | undefined;
  /**
   * Turns a failure into the request's outcome: its return value (a retry's promise, say)
   * settles the request, what it throws rejects it. Cheaper than a `.catch` on every request.
   */
  recover?: ((error: Error) => unknown) | undefined;
}

export class PendingRequests {
  readonly #defaultTimeout: number;
  readonly #timeoutError: (timeout: number) => RuntableError;
  /** Oldest first: ids are handed out in order, so default-timeout deadlines come in order too. */
  readonly #pending = new Map<number, Pending>();
  #timer: NodeJS.Timeout | undefined;

  constructor(defaultTimeout: number, timeoutError: (timeout: number) => RuntableError) {
    this.#defaultTimeout = defaultTimeout;
    this.#timeoutError = timeoutError;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** A promise for request `id`'s answer. */
  track(id: number, options: TrackOptions): Promise<unknown> {
    const { timeout, signal, cancel, recover } = options;
    return new Promise((resolve, reject) => {
      const shared = timeout === this.#defaultTimeout && timeout <= MAX_TIMER_MS;
      const pending: Pending = { resolve, reject, deadline: Date.now() + timeout, shared, cancel, recover };
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
          if (this.settle(id, undefined, abortError(signal))) cancel?.();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /** Settles request `id`; false if it was settled already (or never existed). */
  settle(id: number, value: unknown, error: Error | undefined): boolean {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    this.#pending.delete(id);
    release();
    if (pending.timer) clearTimeout(pending.timer);
    pending.cleanup?.();
    if (!error) pending.resolve(value);
    else if (!pending.recover) pending.reject(error);
    else {
      try {
        pending.resolve(pending.recover(error));
      } catch (thrown) {
        pending.reject(thrown as Error);
      }
    }
    return true;
  }

  /** The connection ended: every request fails with `reason`, at once. */
  rejectAll(reason: RuntableError): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const id of [...this.#pending.keys()]) this.settle(id, undefined, reason);
  }

  #expire(id: number, timeout: number): void {
    const cancel = this.#pending.get(id)?.cancel;
    if (this.settle(id, undefined, this.#timeoutError(timeout))) cancel?.();
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

export function abortError(signal: AbortSignal): RuntableError {
  return signalError(signal, 'the call');
}
