// Node diagnostics_channel events for every call, on both sides, as undici publishes its requests:
// APM tools subscribe by name and need no dependency on runtable. Metadata only, never arguments
// or results. Nobody subscribed costs one test per call and allocates nothing.

import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { type CallSpan, endSpan } from './tracing.js';

/**
 * One call, as its channels see it. The same object goes to start and then to end or error, so a
 * subscriber may keep its own state for the call (a span) in a WeakMap keyed by it, as with
 * undici's `request`.
 */
export interface CallEvent {
  /** The moniker the call went to, when the side publishing knows it (undefined for references). */
  moniker: string | undefined;
  /** The method's name; `''` for a function passed by reference. */
  method: string;
  /** The object id at the owner (a registered object) or the reference id (a ref() object). */
  target: number;
  /** Whether `target` is a reference handed over a connection rather than a registered object. */
  reference: boolean;
  /** The process at the other end of the connection, when known (0 before it is). */
  peerPid: number;
  /** A one-way call: nobody waits for its answer. */
  oneway: boolean;
  /** `'ok'` or the error's code; set on end and error. */
  outcome: string | undefined;
  /** Milliseconds from start to end or error; set on end and error. */
  ms: number | undefined;
  /** When it started (performance.now()): for the duration. */
  readonly startedAt: number;
}

export const callStart = channel('runtable:call:start');
export const callEnd = channel('runtable:call:end');
export const callError = channel('runtable:call:error');
export const serveStart = channel('runtable:serve:start');
export const serveEnd = channel('runtable:serve:end');
export const serveError = channel('runtable:serve:error');

/** True when anyone listens to the client side: the one test a call pays for. */
export function callsWatched(): boolean {
  return callStart.hasSubscribers || callEnd.hasSubscribers || callError.hasSubscribers;
}

/**
 * Told of every call that ends on this side: the owner's monitors (monitor-owner.ts), which
 * ride on the same one test per call as the channels, without being a channel anyone can join.
 */
export interface Recorder {
  /** Whether the calls of `host` are recorded with their values: worth keeping them then. */
  wantsValues(host: unknown): boolean;
  record(watched: Watched): void;
}

let recorder: Recorder | undefined;

/** Sets (or, with undefined, clears) the one recorder of this process. */
export function setRecorder(next: Recorder | undefined): void {
  recorder = next;
}

/** True when anyone listens to the owner side, or a monitor records it. */
export function servesWatched(): boolean {
  return recorder !== undefined || serveStart.hasSubscribers || serveEnd.hasSubscribers || serveError.hasSubscribers;
}

/** The recorder, when one is set: for what only it uses (values, outgoing callbacks). */
export function activeRecorder(): Recorder | undefined {
  return recorder;
}

type Channel = typeof callStart;

/** The three channels of one side. */
interface Side {
  readonly start: Channel;
  readonly end: Channel;
  readonly error: Channel;
}

const SIDES: Readonly<Record<'call' | 'serve', Side>> = {
  call: { start: callStart, end: callEnd, error: callError },
  serve: { start: serveStart, end: serveEnd, error: serveError },
};

/**
 * A call being watched: its message, the side whose channels its end goes to, its OpenTelemetry
 * span when it has one (tracing.ts), ended with it, and what the owner's monitors record of it
 * beyond the event (which stays metadata for any subscriber).
 */
export interface Watched {
  readonly event: CallEvent;
  readonly side: Side;
  span: CallSpan | undefined;
  /** The endpoint whose object it is, or whose client it calls back; the recorder's key. */
  host: unknown;
  /** Encoded bytes of the call message (owner side). */
  bytesIn: number;
  /** Encoded bytes of the answer, and of a stream's items and end (owner side). */
  bytesOut: number;
  /** The result is a stream: the call ends, and is published, when the stream ends. */
  stream: boolean;
  /** Stream items sent. */
  items: number;
  /** Kept only when the recorder wants values: the arguments, and the result or the error. */
  args: unknown[] | undefined;
  result: unknown;
}

/** Whether `watched` is a call this side made (rather than one it serves). */
export function isCallSide(watched: Watched): boolean {
  return watched.side === SIDES.call;
}

/** Publishes the start of a call and returns what its end or error is published with. */
export function started(
  side: 'call' | 'serve',
  moniker: string | undefined,
  method: string,
  target: number,
  reference: boolean,
  peerPid: number,
  oneway: boolean,
): Watched {
  const channels = SIDES[side];
  // Every field from the start, in one order: one shape for all messages, and no copies.
  const event: CallEvent = {
    moniker,
    method,
    target,
    reference,
    peerPid,
    oneway,
    outcome: undefined,
    ms: undefined,
    startedAt: performance.now(),
  };
  if (channels.start.hasSubscribers) channels.start.publish(event);
  return {
    event,
    side: channels,
    span: undefined,
    host: undefined,
    bytesIn: 0,
    bytesOut: 0,
    stream: false,
    items: 0,
    args: undefined,
    result: undefined,
  };
}

/**
 * Publishes the end (`'ok'`) or error (any other code) of a call started with started(), and ends
 * its span; `message` says what went wrong, for the span's status.
 */
export function finished(watched: Watched, outcome: string, message?: string): void {
  const event = watched.event;
  if (event.outcome !== undefined) return;
  event.outcome = outcome;
  event.ms = performance.now() - event.startedAt;
  if (watched.span) endSpan(watched.span, outcome, message);
  const target = outcome === 'ok' ? watched.side.end : watched.side.error;
  if (target.hasSubscribers) target.publish(event);
  recorder?.record(watched);
}

/**
 * A call's end or error published when `sent` settles; the caller still gets `sent`'s outcome.
 * `settled` runs first, to fill in what was learnt on the way (where a moniker was found).
 */
export function watchedCall(sent: Promise<unknown>, watched: Watched, settled?: () => void): Promise<unknown> {
  return sent.then(
    (value) => {
      settled?.();
      finished(watched, 'ok');
      return value;
    },
    (error: unknown) => {
      settled?.();
      finished(watched, outcomeOf(error), (error as Error | undefined)?.message);
      throw error;
    },
  );
}

/** The code to report for whatever a call failed with. */
export function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'REMOTE';
}
