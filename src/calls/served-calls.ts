// What one call connection runs for its peer: the Calls on registered objects and the Invokes of
// references this side exported, each answered or refused exactly once (with its statistics,
// diagnostics and trace span); the host's own requests are answered in host-requests.ts.

import { RuntableError } from '../errors.js';
import { ByReference, RefKind } from '../wire/codec.js';
import type { Connection } from '../wire/connection.js';
import { toErrorRecord } from '../wire/error-record.js';
import {
  type Call,
  type ErrorRecord,
  type Invoke,
  Kind,
  type TraceContext,
  type Unnumbered,
} from '../wire/protocol.js';
import { type CallContext, type CallContextSource, ServedCall, withCallContext } from './call-context.js';
import { activeRecorder, finished, servesWatched, started, type Watched } from './diagnostics.js';
import { answerHostRequest, type HostRequest, type SessionHost } from './host-requests.js';
import type { References } from './references.js';
import type { CallSession } from './session.js';
import { callStart, type MethodCounter, tally } from './statistics.js';
import { isAsyncIterable } from './streams.js';
import { canTrace, inSpan, serverSpan } from './tracing.js';

/** Calls one connection may have running at once; more are refused until some finish. */
export const MAX_CALLS_IN_FLIGHT = 65_536;
/** Characters of a refused method name repeated in the refusal. */
const MAX_NAME_IN_MESSAGE = 100;

/** A name from the wire, cut short: a refusal must not send a megabyte of the peer's input back. */
export function shortened(name: string): string {
  return name.length <= MAX_NAME_IN_MESSAGE
    ? name
    : `${name.slice(0, MAX_NAME_IN_MESSAGE)}… (${name.length} characters)`;
}

/** Method names listed in a NO_SUCH_METHOD message at most. */
const MAX_METHODS_IN_MESSAGE = 20;

/** "SampleServer/alpha has no method "x"; its methods: a, b": what the CLI says too. */
export function noSuchMethod(what: string, method: string, methods: ReadonlySet<string>): string {
  const names = [...methods];
  const listed = names.slice(0, MAX_METHODS_IN_MESSAGE).join(', ');
  const known =
    names.length === 0
      ? 'it exposes none'
      : `its methods: ${listed}${names.length > MAX_METHODS_IN_MESSAGE ? `, … (${names.length} in all)` : ''}`;
  return `${what} has no method "${shortened(method)}"; ${known}`;
}

/** A method that a Call or an Invoke names, found: what to run, on what, and its name in messages. */
export interface Served {
  fn: (...args: unknown[]) => unknown;
  thisArg: unknown;
  what: string;
  /** The moniker of the registered object it belongs to, for diagnostics (none for references). */
  moniker?: string;
  /** Where the call's statistics go: registered objects only (statistics.ts). */
  counter?: MethodCounter;
}

/** The start of a call's diagnostics events, in either direction. */
export function watchStart(
  side: 'call' | 'serve',
  message: Unnumbered<Call | Invoke>,
  oneway: boolean,
  peerPid: number,
  moniker?: string,
): Watched {
  const call = message.kind === Kind.Call;
  const target = call ? message.target : message.ref;
  return started(side, moniker, message.method, target, !call, peerPid, oneway);
}

/** The calls one session serves, and the host requests it answers. */
export class ServedCalls implements CallContextSource {
  readonly #session: CallSession;
  readonly #connection: Connection;
  readonly #references: References;
  readonly #host: SessionHost | undefined;
  readonly #debug: boolean;
  /**
   * Calls still running here after their method returned (a promise), by id. A call answered
   * before its method returns never enters it: nothing can cancel it meanwhile, since the peer's
   * Cancel is read only after.
   */
  readonly #running = new Map<number, ServedCall>();
  /** The monitored call whose result is being encoded: its stream's producer reports to it. */
  streamWatch: Watched | undefined;
  #closed = false;

  constructor(
    session: CallSession,
    references: References,
    options: { host: SessionHost | undefined; debug: boolean },
  ) {
    this.#session = session;
    this.#connection = session.connection;
    this.#references = references;
    this.#host = options.host;
    this.#debug = options.debug;
  }

  /** Calls still running after their method returned. */
  get running(): number {
    return this.#running.size;
  }

  /** A Call on a registered object: what it names, found (or the error to refuse it with). */
  find(message: Call): Served | RuntableError {
    return this.#host
      ? this.#host.find(message.target, message.method)
      : new RuntableError('PROTOCOL', 'this process serves no registered objects on this connection');
  }

  /** An Invoke of a reference this side exported. */
  invoked(message: Invoke): void {
    this.serve(message, this.#exported(message.ref, message.method));
  }

  /** Subscribe, Unsubscribe, Statistics, Monitor and Unmonitor: what the host answers. */
  asked(message: HostRequest): void {
    answerHostRequest(message, this.#host, this.#session, this.#connection);
  }

  /** Method `method` of what this side exported as reference `ref`, or the error to refuse with. */
  #exported(ref: number, method: string): Served | RuntableError {
    const exported = this.#references.exported(ref);
    if (!exported || exported.kind === RefKind.Stream) {
      return new RuntableError('OBJECT_GONE', `reference ${ref} was released or never existed`);
    }
    if (exported.kind === RefKind.Function) {
      if (method !== '') return new RuntableError('NO_SUCH_METHOD', 'a function reference has no methods');
      return { fn: exported.value as (...args: unknown[]) => unknown, thisArg: undefined, what: 'callback' };
    }
    if (!exported.methods?.has(method)) {
      return new RuntableError(
        'NO_SUCH_METHOD',
        noSuchMethod(`the object passed by ref() as reference ${ref}`, method, exported.methods ?? new Set()),
      );
    }
    const target = exported.value as Record<string, (...args: unknown[]) => unknown>;
    return { fn: target[method] as (...args: unknown[]) => unknown, thisArg: target, what: method };
  }

  /** Call and Invoke alike: runs what was found, or refuses (id 0: silently). */
  serve(message: Call | Invoke, served: Served | RuntableError): void {
    const trace = message.trace !== undefined && canTrace();
    const watched = servesWatched() || trace ? this.#watchServed(message, served) : undefined;
    if (trace && watched) serverSpan(watched, message.trace as TraceContext);
    if (isRefusal(served)) {
      const bytes = this.#refuse(message.id, served.message, served.code);
      if (watched) {
        watched.bytesOut = bytes;
        finished(watched, served.code, served.message);
      }
      return;
    }
    // Before the method runs: a call's time is the owner's, from here (or from the answer of the
    // call served just before it, in the same run of JavaScript) to its answer.
    const startedAt = served.counter ? callStart() : 0;
    this.#run(message.id, message.stack === true, served, message.args, watched, startedAt);
  }

  #watchServed(message: Call | Invoke, served: Served | RuntableError): Watched {
    // A refused call on a registered object still belongs to its moniker (NO_SUCH_METHOD).
    const moniker =
      served instanceof RuntableError
        ? message.kind === Kind.Call
          ? this.#host?.monikerOf?.(message.target)
          : undefined
        : served.moniker;
    const watched = watchStart('serve', message, message.id === 0, this.#connection.peerPid, moniker);
    watched.host = this.#host;
    watched.bytesIn = this.#connection.lastMessageBytes;
    if (this.#host && activeRecorder()?.wantsValues(this.#host)) watched.args = message.args;
    return watched;
  }

  /** Runs `fn` on `thisArg` for the peer and answers it exactly once (id 0: never). */
  #run(
    id: number,
    wantsStack: boolean,
    served: Served,
    args: unknown[],
    watched: Watched | undefined,
    startedAt: number,
  ): void {
    const { what, counter } = served;
    if (this.#running.size >= MAX_CALLS_IN_FLIGHT) {
      const message = `more than ${MAX_CALLS_IN_FLIGHT} calls in flight on one connection`;
      if (id !== 0) this.#refuse(id, message, 'PROTOCOL');
      else process.emitWarning(`runtable: one-way call ${what} dropped: too many calls in flight`);
      if (watched) finished(watched, 'PROTOCOL', message);
      tally(counter, startedAt, 'PROTOCOL');
      return;
    }
    const call = new ServedCall(this, id);
    let result: unknown;
    try {
      // In the server span when the call came with trace context: what the method calls is its child.
      const span = watched?.span;
      result = span
        ? inSpan(span, () => withCallContext(call, served.fn, served.thisArg, args))
        : withCallContext(call, served.fn, served.thisArg, args);
    } catch (error) {
      this.#answerThrown(id, wantsStack, what, error, watched, counter, startedAt);
      return;
    }
    let pending: boolean;
    try {
      // A result's getters are user code too: one that throws is the method's failure.
      pending =
        typeof result === 'object' &&
        result !== null &&
        typeof (result as { then?: unknown }).then === 'function' &&
        !isAsyncIterable(result);
    } catch (error) {
      this.#answerThrown(id, wantsStack, what, error, watched, counter, startedAt);
      return;
    }
    if (pending) {
      if (id !== 0) this.#running.set(id, call);
      // Both handlers never throw: a throw here would be an unhandled rejection in the owner.
      Promise.resolve(result).then(
        (value) => {
          this.#settled(call);
          this.#answer(id, what, value, watched, counter, startedAt);
        },
        (error) => {
          this.#settled(call);
          this.#answerThrown(id, wantsStack, what, error, watched, counter, startedAt);
        },
      );
      return;
    }
    this.#answer(id, what, result, watched, counter, startedAt);
  }

  /** A call that was running after its method returned has ended. */
  #settled(call: ServedCall): void {
    // A peer that reused a running call's id replaced it: the newer one stays.
    if (this.#running.get(call.id) === call) this.#running.delete(call.id);
  }

  /** For callContext(): built only when a method asks. */
  contextOf(call: ServedCall): CallContext {
    const served = this;
    return {
      get signal() {
        if (!call.controller) {
          call.controller = new AbortController();
          if (served.#closed) call.controller.abort(new RuntableError('ABORTED', 'the caller went away'));
        }
        return call.controller.signal;
      },
      pid: this.#connection.peerPid,
    };
  }

  #answer(
    id: number,
    what: string,
    value: unknown,
    watched: Watched | undefined,
    counter: MethodCounter | undefined,
    startedAt: number,
  ): void {
    if (watched?.args) watched.result = value;
    if (id === 0 || this.#closed) {
      if (watched) finished(watched, 'ok');
      tally(counter, startedAt, 'ok');
      return;
    }
    try {
      const stream = isAsyncIterable(value);
      // A stream's call ends with the stream: its producer, made while the reply is encoded, tells.
      if (stream && watched) this.streamWatch = watched;
      const bytes = this.#connection.reply(id, stream ? new ByReference(RefKind.Stream, value) : value);
      if (watched) {
        watched.bytesOut += bytes;
        if (!watched.stream) finished(watched, 'ok');
      }
      tally(counter, startedAt, 'ok');
    } catch (error) {
      this.streamWatch = undefined;
      const code = (error as RuntableError).code === 'FRAME_TOO_LARGE' ? 'FRAME_TOO_LARGE' : 'BAD_ARGUMENT';
      const message = `the result of ${what} cannot be sent: ${(error as Error).message}`;
      const bytes = this.#refuse(id, message, code);
      if (watched) {
        watched.bytesOut = bytes;
        finished(watched, code, message);
      }
      tally(counter, startedAt, code);
    }
  }

  /** An error thrown by the method itself travels as REMOTE, whatever its class. */
  #answerThrown(
    id: number,
    wantsStack: boolean,
    what: string,
    error: unknown,
    watched: Watched | undefined,
    counter: MethodCounter | undefined,
    startedAt: number,
  ): void {
    const bytes = this.#sendThrown(id, wantsStack, what, error);
    if (watched) {
      watched.bytesOut = bytes;
      if (watched.args) watched.result = error;
      finished(watched, 'REMOTE', describeThrown(error));
    }
    tally(counter, startedAt, 'REMOTE');
  }

  /** The Failure of a method that threw, sent; returns its size (0 when nothing was sent). */
  #sendThrown(id: number, wantsStack: boolean, what: string, error: unknown): number {
    if (id === 0) {
      process.emitWarning(`runtable: one-way call ${what} failed: ${(error as Error)?.message ?? error}`);
      return 0;
    }
    if (this.#closed) return 0;
    let record: ErrorRecord;
    try {
      record = toErrorRecord(error, wantsStack || this.#debug);
    } catch {
      // Thrown values whose message or name getters throw in turn still get an answer.
      record = { code: 'REMOTE', name: 'Error', message: `${what} threw a value that cannot be described` };
    }
    try {
      return this.#connection.replyError(id, record);
    } catch (unsendable) {
      // A cause can hold anything, a caller's own argument nested too deep to encode included;
      // the error itself must still reach the caller, and this may run in a promise callback
      // where a throw would be an unhandled rejection.
      const plain: ErrorRecord = {
        code: record.code,
        message: `${record.message} (its cause or code could not be sent: ${(unsendable as Error).message})`,
      };
      if (record.name !== undefined) plain.name = record.name;
      const remoteCode = record.remoteCode;
      if (typeof remoteCode === 'string' || typeof remoteCode === 'number') plain.remoteCode = remoteCode;
      return this.#connection.replyError(id, plain);
    }
  }

  /** Refuses request `id` (id 0: silently); returns the Failure's size. */
  #refuse(id: number, message: string, code: RuntableError['code'] = 'PROTOCOL'): number {
    if (id === 0 || this.#closed) return 0;
    return this.#connection.replyError(id, new RuntableError(code, message));
  }

  /** The caller gave up: abort the call's signal, made now if the method has not asked for it yet. */
  cancelled(id: number): void {
    const call = this.#running.get(id);
    if (!call) return;
    call.controller ??= new AbortController();
    call.controller.abort(new RuntableError('ABORTED', 'the caller gave up on this call'));
  }

  /** The connection ended: what still runs is aborted, and nothing more is answered. */
  end(error: RuntableError): void {
    this.#closed = true;
    for (const call of this.#running.values()) call.controller?.abort(error);
    this.#running.clear();
  }
}

/**
 * Whether find() refused: a Served always has its function. Cheaper than `instanceof`, which V8
 * leaves to a generic look-up of Symbol.hasInstance for a class imported from another module.
 */
function isRefusal(found: Served | RuntableError): found is RuntableError {
  return typeof (found as Partial<Served>).fn !== 'function';
}

/** A thrown value's message, for a span's status; user code, so its getters may throw. */
function describeThrown(error: unknown): string | undefined {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return undefined;
  }
}
