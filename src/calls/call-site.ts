// Failed calls point at the line that made them. A rejection is created where the answer (or the
// timeout, or the closed socket) is noticed, far from the caller; a fresh error made in a promise
// job that the caller awaits lets V8's async stack traces add the caller's frames. A call's own
// request does that itself (wire/pending.ts, failThrough, with restack below), at no cost to a
// successful call; atCallSite does it for what else a call may wait on (the moniker's look-up).

import { RuntableError } from '../errors.js';

/** `call`'s outcome; a RuntableError it rejects with is rethrown with a stack through the awaiting caller. */
export async function atCallSite<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw restack(error);
  }
}

/** A copy made here, so its stack runs through whoever awaits the job or async function that calls this. */
export function restack(error: unknown): unknown {
  if (!(error instanceof RuntableError)) return error;
  // A connection's close error is shared by every call it fails: each caller gets its own copy.
  const options: { cause?: unknown; remote?: NonNullable<RuntableError['remote']> } = {};
  if (error.cause !== undefined) options.cause = error.cause;
  if (error.remote) options.remote = error.remote;
  return new RuntableError(error.code, error.message, options);
}
