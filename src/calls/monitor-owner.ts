// The owner's side of table.monitor(): the monitors connected to this process's endpoints, and
// the records of the calls they asked for, sent in one CallRecords per monitor every few
// milliseconds (or as soon as a batch is full). It never
// slows the owner down or grows its memory for a monitor that reads slowly: past a backlog bound
// it drops that monitor's records and counts them, and reports the count once it reads again.

import { inspect } from 'node:util';
import { RuntableError } from '../errors.js';
import { checkPrefix } from '../naming/moniker.js';
import { Kind, type Monitor, type Unmonitor, type WireCallRecord } from '../wire/protocol.js';
import { isCallSide, type Recorder, setRecorder, type Watched } from './diagnostics.js';
import type { CallSession } from './session.js';

/** Bytes unsent to a monitor past which its records are dropped (and counted) rather than queued. */
export const MONITOR_BACKLOG_BYTES = 256 * 1024;
/** Records in one CallRecords at most; a full batch goes at once rather than at the next flush. */
export const MAX_RECORDS_PER_BATCH = 256;
/**
 * How long a record may wait for others to travel with it. Sent per tick, each sequential call's
 * record woke the monitor process, which doubled the call's latency on a busy machine.
 */
export const MONITOR_FLUSH_MS = 5;
/** Characters of arguments, and of a result, that a monitor asking for values gets at most. */
export const MONITOR_VALUE_CHARS = 256;
/** Monitors one connection may start. */
export const MAX_MONITORS_PER_CONNECTION = 64;

/** One Monitor request: who asked, for what, and what waits to be sent to it. */
interface Subscription {
  readonly host: unknown;
  readonly session: CallSession;
  readonly id: number;
  readonly prefix: string;
  readonly values: boolean;
  batch: WireCallRecord[];
  /** Records dropped since the last batch because the monitor did not read. */
  missed: number;
}

class OwnerMonitors implements Recorder {
  readonly #subscriptions = new Set<Subscription>();
  readonly #dirty = new Set<Subscription>();
  #flushing: NodeJS.Timeout | undefined;

  /** Monitor or Unmonitor from `session`, a client connection of endpoint `host`. */
  handle(host: unknown, session: CallSession, message: Monitor | Unmonitor): void {
    if (message.kind === Kind.Unmonitor) {
      for (const subscription of this.#subscriptions) {
        if (subscription.session === session && subscription.id === message.monitor) this.#remove(subscription);
      }
      return;
    }
    let count = 0;
    for (const subscription of this.#subscriptions) if (subscription.session === session) count++;
    try {
      checkPrefix(message.prefix);
      if (count >= MAX_MONITORS_PER_CONNECTION) {
        throw new RuntableError(
          'BAD_ARGUMENT',
          `one connection may start at most ${MAX_MONITORS_PER_CONNECTION} monitors`,
        );
      }
    } catch (error) {
      session.connection.replyError(message.id, error as RuntableError);
      return;
    }
    const subscription: Subscription = {
      host,
      session,
      id: message.id,
      prefix: message.prefix,
      values: message.values === true,
      batch: [],
      missed: 0,
    };
    if (count === 0) void session.whenClosed.then(() => this.#forget(session));
    this.#subscriptions.add(subscription);
    // From here on every call of this process pays for the test in servesWatched(), and more.
    setRecorder(this);
    session.connection.reply(message.id, true);
  }

  wantsValues(host: unknown): boolean {
    for (const subscription of this.#subscriptions) if (subscription.host === host && subscription.values) return true;
    return false;
  }

  record(watched: Watched): void {
    if (watched.host === undefined) return;
    const moniker = watched.event.moniker ?? '';
    let plain: WireCallRecord | undefined;
    for (const subscription of this.#subscriptions) {
      if (subscription.host !== watched.host || !moniker.startsWith(subscription.prefix)) continue;
      if (subscription.session.closed) continue;
      if (subscription.session.connection.pendingBytes > MONITOR_BACKLOG_BYTES) {
        subscription.missed++;
        continue;
      }
      plain ??= toWireRecord(watched);
      subscription.batch.push(subscription.values ? withValues(plain, watched) : plain);
      if (subscription.batch.length >= MAX_RECORDS_PER_BATCH) this.#send(subscription);
      else this.#dirty.add(subscription);
    }
    if (this.#dirty.size > 0 && !this.#flushing) {
      // Unref'd: records waiting to be sent never keep the owner's process alive.
      this.#flushing = setTimeout(() => this.#flush(), MONITOR_FLUSH_MS);
      this.#flushing.unref();
    }
  }

  /** Monitors open now (for tests). */
  get size(): number {
    return this.#subscriptions.size;
  }

  /** The timer that will send the waiting records: undefined when none waits (for tests). */
  get flushTimer(): { holdsProcess: boolean } | undefined {
    return this.#flushing ? { holdsProcess: this.#flushing.hasRef() } : undefined;
  }

  /** The most bytes queued and unsent to any one monitor now (for tests). */
  get backlog(): number {
    let most = 0;
    for (const subscription of this.#subscriptions) {
      const bytes = subscription.session.connection.pendingBytes;
      if (bytes > most) most = bytes;
    }
    return most;
  }

  #flush(): void {
    this.#flushing = undefined;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const subscription of dirty) this.#send(subscription);
  }

  #send(subscription: Subscription): void {
    this.#dirty.delete(subscription);
    const records = subscription.batch;
    if (records.length === 0 || subscription.session.closed) return;
    subscription.batch = [];
    const missed = subscription.missed;
    subscription.missed = 0;
    try {
      subscription.session.notify({
        kind: Kind.CallRecords,
        monitor: subscription.id,
        records,
        ...(missed > 0 ? { missed } : {}),
      });
    } catch {
      // A record always encodes (strings and numbers); a connection closing under it just ends it.
      subscription.missed += missed + records.length;
    }
  }

  #forget(session: CallSession): void {
    for (const subscription of this.#subscriptions) if (subscription.session === session) this.#remove(subscription);
  }

  #remove(subscription: Subscription): void {
    this.#subscriptions.delete(subscription);
    this.#dirty.delete(subscription);
    // Nobody monitors: back to one test per call, and no timer left behind.
    if (this.#subscriptions.size === 0) {
      setRecorder(undefined);
      clearTimeout(this.#flushing);
      this.#flushing = undefined;
    }
  }
}

/** The one set of monitors of this process; its endpoints tell it their Monitor requests. */
export const ownerMonitors = new OwnerMonitors();

function toWireRecord(watched: Watched): WireCallRecord {
  const event = watched.event;
  const record: WireCallRecord = {
    moniker: event.moniker ?? '',
    method: event.method,
    peerPid: event.peerPid,
    ms: event.ms ?? 0,
    outcome: event.outcome ?? 'ok',
    bytesIn: watched.bytesIn,
    bytesOut: watched.bytesOut,
    endedAt: Date.now(),
  };
  if (event.oneway) record.oneway = true;
  if (watched.stream) {
    record.stream = true;
    record.items = watched.items;
  }
  // The owner calling back into a client: a call this side made, on a reference.
  if (event.reference && isCallSide(watched)) record.callback = true;
  return record;
}

function withValues(plain: WireCallRecord, watched: Watched): WireCallRecord {
  const record = { ...plain };
  if (watched.args) record.args = valuesText(watched.args);
  if (watched.event.outcome === 'REMOTE' && watched.result instanceof Error) {
    record.result = cut(`${watched.result.name}: ${watched.result.message}`);
  } else if (watched.args && !watched.stream) record.result = valueText(watched.result);
  return record;
}

/** Arguments as a person reads them: `1, "two", { three: 3 }`. */
function valuesText(args: unknown[]): string {
  return cut(args.map((arg) => valueText(arg)).join(', '));
}

function valueText(value: unknown): string {
  try {
    // No custom inspectors and no getters: a monitor must not run the owner's code.
    return cut(
      inspect(value, {
        depth: 2,
        breakLength: Number.POSITIVE_INFINITY,
        maxArrayLength: 20,
        maxStringLength: MONITOR_VALUE_CHARS,
        customInspect: false,
        getters: false,
        compact: true,
      }),
    );
  } catch {
    return '(cannot be shown)';
  }
}

function cut(text: string): string {
  return text.length <= MONITOR_VALUE_CHARS ? text : `${text.slice(0, MONITOR_VALUE_CHARS - 1)}…`;
}
