// callContext(): what a method learns of the remote call it is serving (the caller's abort
// signal, the caller's pid), anywhere in the method's async flow, after an await too. The call
// travels with the flow in an AsyncLocalStorage, entered only around the invocation of a method
// or callback for a peer: a process that serves no calls never enables it (see
// docs/PERFORMANCE.md, "Issue 12: cost of callContext anywhere", for what it costs one that does).

import { AsyncLocalStorage } from 'node:async_hooks';
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
  contextOf(call: ServedCall): CallContext;
}

/**
 * One call being served, as the async flow of its method carries it; the context is made on
 * demand. It also holds the call's AbortController, made when the method asks for its signal or
 * when the call is cancelled first, so that a call answered before it returns is never entered in
 * a table: only one still running after its method returned is (session.ts).
 */
export class ServedCall {
  readonly source: CallContextSource;
  readonly id: number;
  context: CallContext | undefined;
  controller: AbortController | undefined;

  constructor(source: CallContextSource, id: number) {
    this.source = source;
    this.id = id;
    this.context = undefined;
    this.controller = undefined;
  }
}

const served = new AsyncLocalStorage<ServedCall>();

/**
 * The context of the remote call being served: the caller's abort signal and pid. It works in
 * the method called remotely (or the callback a peer invoked), in what it calls, and in what runs
 * after its awaits, timers and callbacks.
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
  const call = served.getStore();
  if (!call) {
    throw new RuntableError(
      'BAD_ARGUMENT',
      'callContext() was called outside any remote call: call it from a registered method (or a callback a peer invoked), or from code that method runs or awaits',
    );
  }
  call.context ??= call.source.contextOf(call);
  return call.context;
}

/** Calls `fn` on `thisArg` with `args`, with `call` as what callContext() returns. */
export function withCallContext(
  call: ServedCall,
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  // Reflect.apply as the callback: run() passes its arguments on, so no closure is made per call.
  return served.run(call, Reflect.apply, fn, thisArg, args);
}
