// table.monitor(): every call on the owners of a prefix, as the calls end. The broker stays off
// the call path: the monitor finds owners through the table's watch (on either backend), connects
// to each as a client would, and asks it for its records (Monitor); owners push them in batches.

import type { ErrorCode, RuntableError } from '../errors.js';
import type { NamingBackend, WatchSink } from '../naming/backend.js';
import { hold, release } from '../transport/keep-alive.js';
import type { CallRecords, TableEventType, WireEntry } from '../wire/protocol.js';
import type { CallSession } from './session.js';

/** Records a consumer may leave unread; past it the newest are dropped and counted as missed. */
export const MAX_UNREAD_RECORDS = 100_000;

/** One call as a monitor sees it, once it has ended. */
export interface CallRecord {
  /**
   * The moniker called; for a callback, that of the call whose arguments passed it. '' when the
   * owner cannot tell: a call on a `ref()` object it handed out, a reference that came otherwise
   * (such calls reach only a monitor of the prefix '').
   */
  moniker: string;
  /** The method; '' for a function passed by reference and called back. */
  method: string;
  /** The process that ran the call: the owner, or for a callback the process called back. */
  ownerPid: number;
  /** The process that made it: the client, or for a callback the owner calling back. */
  callerPid: number;
  /** Milliseconds from its arrival at the owner to its end (for a stream, the stream's end). */
  ms: number;
  /** 'ok', or the code of the error it ended with. */
  outcome: 'ok' | ErrorCode;
  /** Encoded bytes of the call message (0 for a callback: the owner does not count what it sends). */
  bytesIn: number;
  /** Encoded bytes of its answer, and of its stream's items and end (0 for a callback). */
  bytesOut: number;
  /** Sent one-way: nobody waited for the answer. */
  oneway: boolean;
  /** Its result was a stream; `items` counts the items sent. */
  stream: boolean;
  items: number;
  /** A function or ref() object passed by reference, called back by the owner. */
  callback: boolean;
  /** When it ended, by the owner's clock. */
  endedAt: Date;
  /** Records of this owner this monitor missed, just before this one, by reading too slowly. */
  missed: number;
  /** With `values: true`: the arguments as text, cut to 256 characters. */
  args?: string;
  /** With `values: true`: the result, or the error thrown, as text cut to 256 characters. */
  result?: string;
}

/** Options of {@link Table.monitor}. */
export interface MonitorOptions {
  /** Aborting ends the iteration. */
  signal?: AbortSignal;
  /** Also see arguments and results, as text cut to 256 characters. Default `false`. */
  values?: boolean;
}

/** An async iterator of call records; `return()` (or `break`) stops it at every owner. */
export type CallMonitor = AsyncIterableIterator<CallRecord>;

/** One owner being monitored: its pid, and how to stop, once it has agreed. */
interface Owner {
  readonly pid: number;
  stop: (() => void) | undefined;
}

/**
 * The table's watch is only how owners are found, so the monitor takes the backend's events
 * itself (they carry each owner's endpoint): a doubled or missed-then-resumed event is harmless.
 */
export class MonitorStream implements CallMonitor, WatchSink {
  readonly prefix: string;
  readonly #backend: NamingBackend;
  readonly #ended: () => void;
  readonly #connect: (endpoint: string, pid: number) => Promise<CallSession>;
  readonly #values: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #owners = new Map<string, Owner>();
  readonly #unread: CallRecord[] = [];
  #head = 0;
  /** Dropped here, unread: added to the next record's `missed`. */
  #dropped = 0;
  #wake: (() => void) | undefined;
  #started = false;
  #done = false;
  #error: RuntableError | undefined;
  readonly #onAbort = () => void this.return();

  constructor(
    backend: NamingBackend,
    connect: (endpoint: string, pid: number) => Promise<CallSession>,
    prefix: string,
    options: MonitorOptions,
    ended: () => void,
  ) {
    this.#backend = backend;
    this.#connect = connect;
    this.prefix = prefix;
    this.#ended = ended;
    this.#values = options.values === true;
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#done = true;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** A loop waiting here holds the process (keep-alive.ts), as a watch's does. */
  async next(): Promise<IteratorResult<CallRecord>> {
    hold();
    try {
      if (!this.#started && !this.#done) {
        this.#started = true;
        try {
          await this.#backend.watch(this);
        } catch (error) {
          // Ended meanwhile (return(), abort, table.close()): nothing to report.
          if (!this.#done) this.#error ??= error as RuntableError;
          await this.return();
        }
      }
      while (this.#head >= this.#unread.length) {
        if (this.#error) {
          const error = this.#error;
          this.#error = undefined;
          throw error;
        }
        if (this.#done) return { done: true, value: undefined };
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
      const record = this.#unread[this.#head++] as CallRecord;
      if (this.#head === this.#unread.length) {
        this.#unread.length = 0;
        this.#head = 0;
      }
      return { done: false, value: record };
    } finally {
      release();
    }
  }

  async return(): Promise<IteratorResult<CallRecord>> {
    const started = this.#started && !this.#done;
    this.#end();
    if (started) await this.#backend.unwatch(this).catch(() => {});
    return { done: true, value: undefined };
  }

  // --- WatchSink: owners come from the table's watch, each one asked once ---

  snapshot(entries: WireEntry[]): void {
    for (const entry of entries) this.#found(entry);
  }

  event(type: TableEventType, entry: WireEntry): void {
    // An owner that goes away ends its part when its connection closes.
    if (type !== 'revoked') this.#found(entry);
  }

  fail(error: RuntableError): void {
    if (this.#done) return;
    this.#error ??= error;
    this.#end();
  }

  #found(entry: WireEntry): void {
    if (this.#done || this.#owners.has(entry.endpoint)) return;
    const owner: Owner = { pid: entry.pid, stop: undefined };
    this.#owners.set(entry.endpoint, owner);
    void this.#ask(entry.endpoint, owner);
  }

  async #ask(endpoint: string, owner: Owner): Promise<void> {
    try {
      const session = await this.#connect(endpoint, owner.pid);
      const stop = await session.startMonitor(this.prefix, this.#values, (message, closed) => {
        if (closed) this.#owners.delete(endpoint);
        else this.#take(owner.pid, message);
      });
      if (this.#done) stop();
      else owner.stop = stop;
    } catch {
      // Gone before we got there, or too old to be monitored: its part ends quietly.
      if (this.#owners.get(endpoint) === owner) this.#owners.delete(endpoint);
    }
  }

  #take(ownerPid: number, message: CallRecords): void {
    if (this.#done) return;
    let missed = message.missed ?? 0;
    for (const wire of message.records) {
      if (this.#unread.length - this.#head >= MAX_UNREAD_RECORDS) {
        this.#dropped += 1 + missed;
        missed = 0;
        continue;
      }
      const callback = wire.callback === true;
      const record: CallRecord = {
        moniker: wire.moniker,
        method: wire.method,
        ownerPid: callback ? wire.peerPid : ownerPid,
        callerPid: callback ? ownerPid : wire.peerPid,
        ms: wire.ms,
        outcome: wire.outcome as CallRecord['outcome'],
        bytesIn: wire.bytesIn,
        bytesOut: wire.bytesOut,
        oneway: wire.oneway === true,
        stream: wire.stream === true,
        items: wire.items ?? 0,
        callback,
        endedAt: new Date(wire.endedAt),
        missed: missed + this.#dropped,
      };
      if (wire.args !== undefined) record.args = wire.args;
      if (wire.result !== undefined) record.result = wire.result;
      missed = 0;
      this.#dropped = 0;
      this.#unread.push(record);
    }
    this.#wake?.();
  }

  #end(): void {
    if (!this.#done) this.#ended();
    this.#done = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    for (const owner of this.#owners.values()) owner.stop?.();
    this.#owners.clear();
    this.#wake?.();
  }
}
