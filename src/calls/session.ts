// One call connection, seen from either end: it runs what the peer asks of this process (calls
// on registered objects, invocations of references this side exported), keeps the references
// and streams each side handed the other, and delivers events. It ends everything it holds when
// the connection ends: pending calls reject, streams stop, references are freed.

import { RuntableError } from '../errors.js';
import { holdOnce } from '../transport/keep-alive.js';
import { ByReference, type ReferenceContext, RefKind } from '../wire/codec.js';
import type { Connection, ConnectionHandlers, Recover, RequestOptions } from '../wire/connection.js';
import { toErrorRecord, toRuntableError } from '../wire/error-record.js';
import {
  type Call,
  type CallRecords,
  type ErrorRecord,
  type Invoke,
  Kind,
  type Message,
  type Monitor,
  type Statistics,
  type StatisticsReport,
  type TraceContext,
  type Unmonitor,
  type Unnumbered,
} from '../wire/protocol.js';
import { type CallContext, type CallContextSource, ServedCall, withCallContext } from './call-context.js';
import { atCallSite, restack } from './call-site.js';
import type { CallChannel } from './channel.js';
import {
  activeRecorder,
  callsWatched,
  finished,
  servesWatched,
  started,
  type Watched,
  watchedCall,
} from './diagnostics.js';
import { createReferenceProxy } from './proxy.js';
import { References } from './references.js';
import { callStart, clockStale, type MethodCounter, tally } from './statistics.js';
import { isAsyncIterable, StreamConsumer, StreamProducer, type StreamTally } from './streams.js';
import { canTrace, clientSpan, inSpan, serverSpan, tracing } from './tracing.js';

/** Calls one connection may have running at once; more are refused until some finish. */
export const MAX_CALLS_IN_FLIGHT = 65_536;
/** Event names are short labels. */
export const MAX_EVENT_NAME_BYTES = 256;
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

/**
 * What an endpoint adds to a session: registered objects to call and subscribe to. It only finds
 * them; the session runs what it finds and writes every answer and refusal.
 */
export interface SessionHost {
  /** Method `method` of registered object `target`, or the error to refuse the call with. */
  find(target: number, method: string): Served | RuntableError;
  subscribe(session: CallSession, target: number, event: string): void;
  unsubscribe(session: CallSession, target: number, event: string): void;
  closed(session: CallSession): void;
  /** The call statistics a Statistics request asks for. */
  statistics(request: Statistics): StatisticsReport[];
  /** The moniker of registered object `target`, if it still is: for a refused call's diagnostics. */
  monikerOf?(target: number): string | undefined;
  /** Monitor and Unmonitor from the peer: the owner's monitors (monitor-owner.ts). */
  monitor?(session: CallSession, message: Monitor | Unmonitor): void;
}

/** Where the CallRecords of one monitor go; with `closed` and no records when its connection ends. */
export type RecordsSink = (message: CallRecords, closed?: RuntableError) => void;

export class CallSession implements CallChannel, ReferenceContext, CallContextSource {
  readonly connection: Connection;
  readonly #host: SessionHost | undefined;
  readonly #debug: boolean;
  /** Ids of what this side exports: references and streams share one sequence. */
  #nextExport = 1;
  readonly #references = new References(
    () => this.#nextExport++,
    (ref, count) => {
      this.#refMonikers?.delete(ref);
      if (!this.#closed) this.notify({ kind: Kind.Release, ref, count });
    },
  );
  /** While monitored: references imported by the message being handled, then the moniker they came with. */
  #freshImports: number[] | undefined;
  #refMonikers: Map<number, string> | undefined;
  /** The monitored call whose result is being encoded: its stream's producer reports to it. */
  #streamWatch: Watched | undefined;
  /** Stream consumers waiting for items: held strongly, since only their own loop refers to them. */
  readonly #awaitingItems = new Set<StreamConsumer>();
  /**
   * Calls still running here after their method returned (a promise), by id. A call answered
   * before its method returns never enters it: nothing can cancel it meanwhile, since the peer's
   * Cancel is read only after.
   */
  readonly #running = new Map<number, ServedCall>();
  readonly #producers = new Map<number, StreamProducer>();
  readonly #consumers = new Map<number, WeakRef<StreamConsumer>>();
  readonly #abandoned = new FinalizationRegistry<number>((id) => this.#abandon(id));
  readonly #listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  /** The Subscribe in flight or done for each target and event; later listeners wait on it too. */
  readonly #subscribed = new Map<string, Promise<unknown>>();
  /** Releases of the keep-alive holds of this connection's subscriptions. */
  readonly #holds = new Set<() => void>();
  /** The monitors this side started at the peer, by the id of their Monitor request. */
  readonly #monitored = new Map<number, RecordsSink>();
  #closed = false;
  /** What its connection reports to: made with the session, in Connection.connect's or accept's attach. */
  readonly handlers: ConnectionHandlers = {
    onMessage: (message) => this.#handle(message),
    onClose: (error) => this.#end(error),
  };

  constructor(connection: Connection, options: { host?: SessionHost; debug: boolean }) {
    this.connection = connection;
    this.#host = options.host;
    this.#debug = options.debug;
    connection.references = this;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * What this session still holds: every count is zero once its calls, streams, references and
   * subscriptions are done. The one-process tests check it on both sides after each test.
   */
  get outstanding(): Readonly<Record<string, number>> {
    return {
      requests: this.connection.inFlight,
      queuedBytes: this.connection.pendingBytes,
      receiving: this.connection.receiving,
      running: this.#running.size,
      ...this.#references.held,
      producers: this.#producers.size,
      consumers: this.#consumers.size,
      awaitingItems: this.#awaitingItems.size,
      listeners: this.#listeners.size,
      subscribed: this.#subscribed.size,
      holds: this.#holds.size,
      monitored: this.#monitored.size,
    };
  }

  get peerPid(): number {
    return this.connection.peerPid;
  }

  get whenClosed(): Promise<RuntableError> {
    return this.connection.whenClosed;
  }

  // --- Outgoing ---

  call(message: Unnumbered<Call>, options: RequestOptions, recover?: Recover): Promise<unknown> {
    return this.connection.request<Call>(message, cancellableOptions(options), recover);
  }

  invoke(ref: number, method: string, args: unknown[], options: RequestOptions): Promise<unknown> {
    const message: Unnumbered<Invoke> = { kind: Kind.Invoke, ref, method, args };
    if (this.#debug) message.stack = true;
    const watched =
      callsWatched() || tracing() || (this.#host && activeRecorder())
        ? this.#watch('call', message, false, this.#refMonikers?.get(ref))
        : undefined;
    // A callback into a client of this owner is the owner's call: its monitors see it.
    if (watched && this.#host) watched.host = this.#host;
    const trace = watched ? clientSpan(watched) : undefined;
    if (trace) message.trace = trace;
    const sent = this.#references.through(ref, () =>
      this.connection.request<Invoke>(message, cancellableOptions(options)),
    );
    return watched ? watchedCall(sent, watched) : sent;
  }

  /** The start of a call's diagnostics events, in either direction. */
  #watch(side: 'call' | 'serve', message: Unnumbered<Call | Invoke>, oneway: boolean, moniker?: string): Watched {
    const call = message.kind === Kind.Call;
    const target = call ? message.target : message.ref;
    return started(side, moniker, message.method, target, !call, this.connection.peerPid, oneway);
  }

  /** Sends without waiting for (or getting) an answer, returning its size; throws if it cannot be sent. */
  notify(message: Message): number {
    return this.connection.send(message);
  }

  /** Adds a listener for `event` of `target`; subscribes at the owner for the first one. */
  async listen(target: number, event: string, listener: (...args: unknown[]) => void): Promise<() => void> {
    const key = `${target}\n${event}`;
    let listeners = this.#listeners.get(key);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(key, listeners);
    }
    listeners.add(listener);
    // An open subscription holds the process until it is unsubscribed or its connection ends.
    const unhold = holdOnce();
    this.#holds.add(unhold);
    const off = () => {
      this.#holds.delete(unhold);
      unhold();
      const set = this.#listeners.get(key);
      if (!set?.delete(listener) || set.size > 0) return;
      this.#listeners.delete(key);
      this.#subscribed.delete(key);
      if (!this.#closed) this.notify({ kind: Kind.Unsubscribe, target, event });
    };
    let subscribed = this.#subscribed.get(key);
    if (!subscribed) {
      subscribed = this.connection.request({ kind: Kind.Subscribe, target, event });
      this.#subscribed.set(key, subscribed);
    }
    try {
      await subscribed;
    } catch (error) {
      if (this.#subscribed.get(key) === subscribed) this.#subscribed.delete(key);
      off();
      throw error;
    }
    return off;
  }

  /**
   * Asks the owner at the other end for a record of each call on its objects under `prefix`;
   * resolves, once it agrees, with the function that stops it.
   */
  async startMonitor(prefix: string, values: boolean, sink: RecordsSink): Promise<() => void> {
    let id = 0;
    const message: Unnumbered<Monitor> = { kind: Kind.Monitor, prefix };
    if (values) message.values = true;
    try {
      await this.connection.request<Monitor>(message, {
        numbered: (n) => {
          id = n;
          this.#monitored.set(n, sink);
        },
      });
    } catch (error) {
      this.#monitored.delete(id);
      throw error;
    }
    return () => {
      if (this.#monitored.delete(id) && !this.#closed) this.notify({ kind: Kind.Unmonitor, monitor: id });
    };
  }

  // --- ReferenceContext, for the codec ---

  exportReference(kind: RefKind, value: object): unknown[] {
    if (kind === RefKind.Stream) {
      const id = this.#nextExport++;
      const watched = this.#streamWatch;
      this.#streamWatch = undefined;
      const tally = watched ? streamTally(watched) : undefined;
      this.#producers.set(id, new StreamProducer(this.#producerWire, id, value as AsyncIterable<unknown>, tally));
      return [kind, id];
    }
    return this.#references.export(kind, value);
  }

  importReference(kind: number, id: number): unknown {
    if (kind === RefKind.Stream) {
      const consumer = new StreamConsumer(this.#consumerWire, id, toRuntableError);
      this.#consumers.set(id, new WeakRef(consumer));
      this.#abandoned.register(consumer, id, consumer);
      // Not from inside decode: sending encodes, and the codec is busy with this message.
      queueMicrotask(() => consumer.start());
      return consumer;
    }
    if (kind !== RefKind.Function && kind !== RefKind.Object) throw new Error(`unknown reference kind ${kind}`);
    if (this.#host && activeRecorder()) {
      this.#freshImports ??= [];
      this.#freshImports.push(id);
    }
    return this.#references.import(id, () =>
      kind === RefKind.Function
        ? (...args: unknown[]) => atCallSite(this.invoke(id, '', args, {}))
        : createReferenceProxy(this, id),
    );
  }

  // --- Incoming ---

  #handle(message: Message): void {
    // Imported while this message was decoded (or a Reply before it, which does not pass here).
    const imported = this.#freshImports;
    this.#freshImports = undefined;
    switch (message.kind) {
      case Kind.Call: {
        const served = this.#host
          ? this.#host.find(message.target, message.method)
          : new RuntableError('PROTOCOL', 'this process serves no registered objects on this connection');
        if (imported) this.#noteImports(imported, served);
        this.#serve(message, served);
        return;
      }
      case Kind.Invoke:
        this.#serve(message, this.#exported(message.ref, message.method));
        return;
      case Kind.Cancel:
        this.#cancelled(message.call);
        return;
      case Kind.Release:
        this.#references.unexport(message.ref, message.count);
        return;
      case Kind.Subscribe:
        try {
          if (!this.#host) throw new RuntableError('PROTOCOL', 'nothing to subscribe to on this connection');
          if (Buffer.byteLength(message.event) > MAX_EVENT_NAME_BYTES) {
            throw new RuntableError('BAD_ARGUMENT', `event names are at most ${MAX_EVENT_NAME_BYTES} bytes`);
          }
          this.#host.subscribe(this, message.target, message.event);
          this.connection.reply(message.id, true);
        } catch (error) {
          this.connection.replyError(message.id, error as RuntableError);
        }
        return;
      case Kind.Unsubscribe:
        this.#host?.unsubscribe(this, message.target, message.event);
        return;
      case Kind.Statistics:
        try {
          if (!this.#host) throw new RuntableError('PROTOCOL', 'this process serves no registered objects here');
          // A report too large to send (FRAME_TOO_LARGE) fails this request alone.
          this.connection.reply(message.id, this.#host.statistics(message));
        } catch (error) {
          this.connection.replyError(message.id, error as RuntableError);
        }
        return;
      case Kind.Event:
        this.#deliver(message.target, message.event, message.args);
        return;
      case Kind.StreamItems:
        this.#consumers.get(message.stream)?.deref()?.push(message.values);
        return;
      case Kind.StreamEnd:
        this.#consumers.get(message.stream)?.deref()?.end(message.error);
        return;
      case Kind.StreamCredit:
        this.#producers.get(message.stream)?.grant(message.credit);
        return;
      case Kind.StreamCancel:
        this.#producers.get(message.stream)?.cancel();
        return;
      case Kind.Monitor:
      case Kind.Unmonitor:
        if (this.#host?.monitor) this.#host.monitor(this, message);
        else if (message.kind === Kind.Monitor) {
          this.connection.replyError(
            message.id,
            new RuntableError('PROTOCOL', 'nothing to monitor on this connection'),
          );
        }
        return;
      case Kind.CallRecords:
        this.#monitored.get(message.monitor)?.(message);
        return;
      default:
        this.connection.replyError(
          'id' in message ? message.id : 0,
          new RuntableError('PROTOCOL', `a call connection does not take messages of kind ${message.kind}`),
        );
    }
  }

  /** References that came with a monitored call: their callbacks are shown under its moniker. */
  #noteImports(ids: number[], served: Served | RuntableError): void {
    if (served instanceof RuntableError || served.moniker === undefined) return;
    this.#refMonikers ??= new Map();
    for (const id of ids) this.#refMonikers.set(id, served.moniker);
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
  #serve(message: Call | Invoke, served: Served | RuntableError): void {
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
    const watched = this.#watch('serve', message, message.id === 0, moniker);
    watched.host = this.#host;
    watched.bytesIn = this.connection.lastMessageBytes;
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
    const session = this;
    return {
      get signal() {
        if (!call.controller) {
          call.controller = new AbortController();
          if (session.#closed) call.controller.abort(new RuntableError('ABORTED', 'the caller went away'));
        }
        return call.controller.signal;
      },
      pid: this.connection.peerPid,
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
      if (stream && watched) this.#streamWatch = watched;
      const bytes = this.connection.reply(id, stream ? new ByReference(RefKind.Stream, value) : value);
      if (watched) {
        watched.bytesOut += bytes;
        if (!watched.stream) finished(watched, 'ok');
      }
      tally(counter, startedAt, 'ok');
    } catch (error) {
      this.#streamWatch = undefined;
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
      return this.connection.replyError(id, record);
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
      return this.connection.replyError(id, plain);
    }
  }

  /** Refuses request `id` (id 0: silently); returns the Failure's size. */
  #refuse(id: number, message: string, code: RuntableError['code'] = 'PROTOCOL'): number {
    if (id === 0 || this.#closed) return 0;
    return this.connection.replyError(id, new RuntableError(code, message));
  }

  #deliver(target: number, event: string, args: unknown[]): void {
    const listeners = this.#listeners.get(`${target}\n${event}`);
    if (!listeners) return;
    clockStale();
    for (const listener of [...listeners]) {
      try {
        listener(...args);
      } catch (error) {
        // As with EventEmitter, a throwing listener is the program's bug: surface it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // Stream ids are each exporter's own: ours (producers) and the peer's (consumers) may coincide.
  readonly #producerWire = {
    send: (message: Message) => (this.#closed ? 0 : this.notify(message)),
    forget: (stream: number) => this.#producers.delete(stream),
  };
  readonly #consumerWire = {
    send: this.#producerWire.send,
    forget: (stream: number) => this.#consumers.delete(stream),
    pin: (consumer: StreamConsumer, waiting: boolean) => {
      if (waiting) this.#awaitingItems.add(consumer);
      else this.#awaitingItems.delete(consumer);
    },
  };

  /** The caller gave up: abort the call's signal, made now if the method has not asked for it yet. */
  #cancelled(id: number): void {
    const call = this.#running.get(id);
    if (!call) return;
    call.controller ??= new AbortController();
    call.controller.abort(new RuntableError('ABORTED', 'the caller gave up on this call'));
  }

  /** A stream consumer was dropped without being finished: stop its producer. */
  #abandon(id: number): void {
    // Gone from the map: it finished, and there is nothing to stop.
    if (!this.#consumers.has(id) || this.#consumers.get(id)?.deref()) return;
    this.#consumers.delete(id);
    if (!this.#closed) this.notify({ kind: Kind.StreamCancel, stream: id });
  }

  #end(error: RuntableError): void {
    this.#closed = true;
    for (const call of this.#running.values()) call.controller?.abort(error);
    this.#running.clear();
    for (const producer of [...this.#producers.values()]) producer.cancel('OBJECT_GONE');
    this.#producers.clear();
    const gone = new RuntableError('OBJECT_GONE', error.message, { cause: error });
    for (const consumer of [...this.#consumers.values()]) consumer.deref()?.end(gone);
    this.#consumers.clear();
    this.#references.clear();
    this.#refMonikers = undefined;
    this.#freshImports = undefined;
    for (const [id, deliver] of this.#monitored) deliver({ kind: Kind.CallRecords, monitor: id, records: [] }, error);
    this.#monitored.clear();
    this.#listeners.clear();
    for (const unhold of this.#holds) unhold();
    this.#holds.clear();
    this.#awaitingItems.clear();
    this.#host?.closed(this);
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

/** What a monitored call's stream producer reports: items and bytes, then the call's end. */
function streamTally(watched: Watched): StreamTally {
  watched.stream = true;
  return {
    sent(items, bytes) {
      watched.items += items;
      watched.bytesOut += bytes;
    },
    ended(outcome) {
      finished(watched, outcome);
    },
  };
}

const CANCELLABLE: RequestOptions = { cancellable: true, restack };

/**
 * Calls are cancellable, and fail with the caller's stack; most carry no options of their own,
 * and share one object for that.
 */
function cancellableOptions(options: RequestOptions): RequestOptions {
  return options.timeout === undefined && options.signal === undefined
    ? CANCELLABLE
    : { ...options, cancellable: true, restack };
}
