// Whether runtable holds this process open. A script must end when its work is done, even if it
// forgot table.close(); a server must not. So runtable's own sockets and timers never hold the
// process by themselves (they are unref'd), and this module counts what should: registrations,
// calls and requests in flight, handshakes, watches and streams being awaited, subscriptions.
// While the count is above zero one ref'd timer keeps the event loop alive.
//
// One timer rather than ref()/unref() on each socket: liveness is the process's, not a socket's,
// so one handle gives the same answer with one toggle per 0 <-> 1 transition, and a socket opened
// while something is held needs no bookkeeping. Bytes already handed to an unref'd socket still
// leave: a write in progress is a libuv request, and requests keep the loop alive on their own.

/** The anchor's period: it never needs to fire, only to exist. */
const ANCHOR_PERIOD_MS = 2 ** 31 - 1;

let holds = 0;
let anchor: NodeJS.Timeout | undefined;

/** Holds the process open until a matching release(). Cheap: a counter, and a timer toggle at 0 -> 1. */
export function hold(): void {
  if (holds++ === 0) {
    anchor ??= setInterval(() => {}, ANCHOR_PERIOD_MS);
    anchor.ref();
  }
}

/** Undoes one hold(). */
export function release(): void {
  // An unmatched release would be runtable's bug; throwing here, deep in a socket's callback,
  // would crash the user's process for it. The tests check the count instead (heldCount).
  if (holds <= 0) return;
  if (--holds === 0) anchor?.unref();
}

/** A hold that can be released once only, whoever calls it how often: for holds with several ends. */
export function holdOnce(): () => void {
  hold();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    release();
  };
}

/** Holds the process open until `promise` settles; returns the promise. */
export function holdUntil<T>(promise: Promise<T>): Promise<T> {
  hold();
  return promise.finally(release);
}

/** What holds the process now; for tests and diagnostics. */
export function heldCount(): number {
  return holds;
}

/** setTimeout cannot count further: a longer delay would fire at once (with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer that only guards (a timeout): unref'd, so it never holds the process, and none at all
 * for a wait setTimeout cannot count (Infinity, meaning no timeout). clearTimeout takes either.
 */
export function guardTimer(ms: number, fire: () => void): NodeJS.Timeout | undefined {
  if (!(ms <= MAX_TIMER_MS)) return undefined;
  return setTimeout(fire, ms).unref();
}
