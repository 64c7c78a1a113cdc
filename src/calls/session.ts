// One call connection, seen from either end: it hands what the peer asks of this process (calls
// on registered objects, invocations of references this side exported) to served-calls.ts, keeps
// the references and streams each side handed the other, and delivers events. It ends everything
// it holds when the connection ends: pending calls reject, streams stop, references are freed.

import { RuntableError } from '../errors.js';
import { holdOnce } from '../transport/keep-alive.js';
import { type ReferenceContext, RefKind } from '../wire/codec.js';
import type { CallRequest, Connection, ConnectionHandlers, RequestOptions } from '../wire/connection.js';
import { toRuntableError } from '../wire/error-record.js';
import { type CallRecords, type Invoke, Kind, type Message, type Monitor, type Unnumbered } from '../wire/protocol.js';
import { atCallSite, restack } from './call-site.js';
import type { CallChannel } from './channel.js';
import { activeRecorder, callsWatched, finished, type Watched, watchedCall } from './diagnostics.js';
import type { SessionHost } from './host-requests.js';
import { createReferenceProxy } from './proxy.js';
import { References } from './references.js';
import { type Served, ServedCalls, watchStart } from './served-calls.js';
import { clockStale } from './statistics.js';
import { StreamConsumer, StreamProducer, type StreamTally } from './streams.js';
import { clientSpan, tracing } from './tracing.js';

/** Where the CallRecords of one monitor go; with `closed` and no records when its connection ends. */
export type RecordsSink = (message: CallRecords, closed?: RuntableError) => void;

export class CallSession implements CallChannel, ReferenceContext {
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
  /** Stream consumers waiting for items: held strongly, since only their own loop refers to them. */
  readonly #awaitingItems = new Set<StreamConsumer>();
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
  /** The calls the peer asked of this side, and the host requests. */
  readonly #served: ServedCalls;
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
    this.#served = new ServedCalls(this, this.#references, { host: options.host, debug: options.debug });
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
      running: this.#served.running,
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

  call(request: CallRequest, options: RequestOptions): Promise<unknown> {
    return this.connection.call(request, cancellableOptions(options));
  }

  invoke(ref: number, method: string, args: unknown[], options: RequestOptions): Promise<unknown> {
    const message: Unnumbered<Invoke> = { kind: Kind.Invoke, ref, method, args };
    if (this.#debug) message.stack = true;
    const watched =
      callsWatched() || tracing() || (this.#host && activeRecorder())
        ? watchStart('call', message, false, this.connection.peerPid, this.#refMonikers?.get(ref))
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
      const watched = this.#served.streamWatch;
      this.#served.streamWatch = undefined;
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
        const served = this.#served.find(message);
        if (imported) this.#noteImports(imported, served);
        this.#served.serve(message, served);
        return;
      }
      case Kind.Invoke:
        this.#served.invoked(message);
        return;
      case Kind.Cancel:
        this.#served.cancelled(message.call);
        return;
      case Kind.Release:
        this.#references.unexport(message.ref, message.count);
        return;
      case Kind.Subscribe:
      case Kind.Unsubscribe:
      case Kind.Statistics:
      case Kind.Monitor:
      case Kind.Unmonitor:
        this.#served.asked(message);
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

  /** A stream consumer was dropped without being finished: stop its producer. */
  #abandon(id: number): void {
    // Gone from the map: it finished, and there is nothing to stop.
    if (!this.#consumers.has(id) || this.#consumers.get(id)?.deref()) return;
    this.#consumers.delete(id);
    if (!this.#closed) this.notify({ kind: Kind.StreamCancel, stream: id });
  }

  #end(error: RuntableError): void {
    this.#closed = true;
    this.#served.end(error);
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
