// callContext(): what a method learns of the remote call it is serving (the caller's abort
// signal, the caller's pid). Known only in the method's synchronous part: runtable sets it around
// the invocation, because AsyncLocalStorage would tax every promise in the process.

import { RuntableError } from '../errors.js';

/** What a method learns of the call it serves, through callContext(). */
export interface CallContext {
  /** Aborted when the caller gives up (timeout or abort) or goes away. */
  readonly signal: AbortSignal;
  /** The calling process. */
  readonly pid: number;
}

let current: (() => CallContext) | undefined;

/**
 * The context of the call being served. Call it in the method's synchronous part, before any
 * await: after that, another call may be running.
 */
export function callContext(): CallContext {
  if (!current) throw new RuntableError('BAD_ARGUMENT', 'callContext() works only inside a method called remotely');
  return current();
}

/** Runs `invoke` with `context` as what callContext() returns. */
export function withCallContext<T>(context: () => CallContext, invoke: () => T): T {
  const outer = current;
  current = context;
  try {
    return invoke();
  } finally {
    current = outer;
  }
}
