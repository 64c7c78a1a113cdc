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

/** Where the context of a call comes from: the session serving it. */
export interface CallContextSource {
  contextOf(id: number): CallContext;
}

// Two plain variables rather than a closure or record per call: this is on every call's path.
let currentSource: CallContextSource | undefined;
let currentId = 0;

/**
 * The context of the remote call being served: the caller's abort signal and pid. Call it in the
 * method's synchronous part, before any await: after that, another call may be running.
 *
 * @example
 * ```ts
 * async crunch(data: Uint8Array) {
 *   const { signal } = callContext();
 *   for (const chunk of split(data)) { if (signal.aborted) return; await work(chunk); }
 * }
 * ```
 * @throws {RuntableError} `BAD_ARGUMENT` outside a method called remotely.
 */
export function callContext(): CallContext {
  if (!currentSource)
    throw new RuntableError('BAD_ARGUMENT', 'callContext() works only inside a method called remotely');
  return currentSource.contextOf(currentId);
}

/** Calls `fn` on `thisArg` with `args`, with call `id` of `source` as what callContext() returns. */
export function withCallContext(
  source: CallContextSource,
  id: number,
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  const outerSource = currentSource;
  const outerId = currentId;
  currentSource = source;
  currentId = id;
  try {
    return Reflect.apply(fn, thisArg, args);
  } finally {
    currentSource = outerSource;
    currentId = outerId;
  }
}
