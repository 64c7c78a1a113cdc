// A process's view of one running object table: connect() gives a Table, through which the
// process registers objects (as an owner) and finds and calls others (as a client). Naming goes
// to the broker; calls go straight to the owner's endpoint.

import { type CallMonitor, type MonitorOptions, MonitorStream } from './calls/monitor.js';
import { Peers } from './calls/peers.js';
import { createRemote, type Target } from './calls/proxy.js';
import type { CallSettings } from './calls/settings.js';
import type { ObjectStats } from './calls/statistics.js';
import { listObjectStats, objectStats, ownerGone, type StatsSource } from './calls/stats-query.js';
import type { AnyEvents, EventMap, Remote } from './calls/types.js';
import { RuntableError } from './errors.js';
import type { NamingBackend, TableStatus } from './naming/backend.js';
import { type Entry, type TableWatch, toPublicEntry } from './naming/entry.js';
import { checkMoniker, checkPrefix } from './naming/moniker.js';
import { waitForEntry } from './naming/wait.js';
import { WatchStream } from './naming/watch-stream.js';
import { boolean, checkOptions, ms, signal } from './options.js';
import type { Registration } from './registration.js';
import { type RegisterOptions, TableRegistrations } from './registration-host.js';
import type { ServiceInfo, WireEntry } from './wire/protocol.js';

export type { RegisterOptions } from './registration-host.js';

export interface WaitOptions {
  /** ms to wait; default the table's timeout; Infinity waits without end. */
  timeout?: number;
  /** Aborting ends the wait with ABORTED. */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Wait up to this many ms for the moniker to be registered (TIMEOUT after); default: no wait. */
  wait?: number;
}

/** Options of {@link Table.watch}. */
export interface WatchOptions {
  /** Aborting ends the iteration. */
  signal?: AbortSignal;
}

const WATCH_OPTIONS = { signal };
const MONITOR_OPTIONS = { signal, values: boolean };
const GET_OPTIONS = { wait: ms };
const WAIT_OPTIONS = { timeout: ms, signal };

/**
 * One process's connection to a running object table, made by `connect()`: register objects
 * (owner side), list, watch and call them (client side). Close it with `close()` or
 * `await using`; the process's entries leave the table when it closes or the process ends.
 */
export class Table implements AsyncDisposable {
  /** The table directory this Table is connected to (the etcd address for a table on etcd). */
  readonly dir: string;
  readonly #backend: NamingBackend;
  readonly #peers: Peers;
  readonly #settings: CallSettings;
  /** The owner side: this process's registrations and the endpoint that serves them. */
  readonly #registrations: TableRegistrations;
  readonly #watches = new Set<WatchStream>();
  readonly #monitors = new Set<MonitorStream>();
  #closed = false;

  // Private, and the factory marked internal (stripped from the published .d.ts): a Table comes from connect().
  private constructor(dir: string, backend: NamingBackend, settings: CallSettings) {
    this.dir = dir;
    this.#backend = backend;
    this.#peers = new Peers(settings);
    this.#settings = settings;
    this.#registrations = new TableRegistrations(backend, settings, () => this.#closed);
  }

  /** @internal */
  static create(dir: string, backend: NamingBackend, settings: CallSettings): Table {
    return new Table(dir, backend, settings);
  }

  /**
   * Puts `object` in the table under `moniker`, served from this process: its methods become
   * callable from any process of the same user until the registration is revoked or this
   * process ends. `E` declares the events it emits, so that reg.emit() checks their names and
   * arguments (clients give the same map to get<T, E>()).
   *
   * @param moniker 1 to 512 bytes of UTF-8, no control characters; `/` separates levels by convention.
   * @throws {RuntableError} `BAD_MONIKER`; `BAD_ARGUMENT` (not an object, an option of the wrong
   * type or unknown, `replace` with `queue`, metadata not a plain object or too large or deep, an
   * `expose` name that is no exposed method); `ALREADY_REGISTERED` when the moniker has a live
   * owner and neither `replace` nor `queue` is set; `ABORTED` when `signal` aborts while in line;
   * `TABLE_UNAVAILABLE` when this table is closed or its broker cannot be reached.
   */
  async register<E extends EventMap<E> = AnyEvents>(
    moniker: string,
    object: object,
    options: RegisterOptions = {},
  ): Promise<Registration<E>> {
    this.#assertOpen();
    return this.#registrations.register(moniker, object, options);
  }

  /**
   * The entries whose moniker starts with `prefix` (a plain prefix, not a pattern; `''` for all).
   * @throws {RuntableError} `BAD_MONIKER` for a bad prefix; `TABLE_UNAVAILABLE`.
   */
  async list(prefix = ''): Promise<Entry[]> {
    checkPrefix(prefix);
    return this.#backend.list(prefix);
  }

  /**
   * The monikers under `prefix` (a plain prefix; `''` for all), in the order `list` gives their
   * entries: names only, the like of D-Bus's ListNames, for when the entries are not needed.
   * Much cheaper than `list` for a large table: no entry is made on either side.
   * @throws {RuntableError} `BAD_MONIKER` for a bad prefix; `TABLE_UNAVAILABLE`.
   */
  async listNames(prefix = ''): Promise<string[]> {
    checkPrefix(prefix);
    return this.#backend.listNames(prefix);
  }

  /**
   * The entry registered under `moniker`, or `undefined` if there is none.
   * @throws {RuntableError} `BAD_MONIKER`; `TABLE_UNAVAILABLE`.
   */
  async lookup(moniker: string): Promise<Entry | undefined> {
    const entry = await this.#lookup(moniker);
    return entry ? toPublicEntry(entry) : undefined;
  }

  /**
   * Whether something is registered under `moniker` (COM's IsRunning).
   * @throws {RuntableError} `BAD_MONIKER`; `TABLE_UNAVAILABLE`.
   */
  async isRunning(moniker: string): Promise<boolean> {
    return (await this.#lookup(moniker)) !== undefined;
  }

  /**
   * A proxy of the object registered under `moniker`: each of its methods returns a Promise of
   * the remote result. The proxy follows the moniker: after its owner goes, the next call finds
   * the new owner (or rejects with `NOT_REGISTERED`). Its calls reject with `OBJECT_GONE` (the
   * owner died mid-call), `TIMEOUT`, `ABORTED`, `NO_SUCH_METHOD`, `BAD_ARGUMENT` (a value that
   * cannot travel), `FRAME_TOO_LARGE`, or `REMOTE` (the method threw; see `err.remote`). `E`
   * declares the events the owner emits, so that on() checks their names and listeners.
   *
   * When nobody holds the moniker, a service file that names it is started (activation, see
   * the README), and `wait` waits that many ms for it to be registered.
   *
   * @example
   * ```ts
   * const greeter = await table.get<{ hello(name: string): string }>('Greeter/main');
   * const text: string = await greeter.hello('world');
   * ```
   * @throws {RuntableError} `NOT_REGISTERED` if nothing live is registered (and no `wait`);
   * `TIMEOUT` if `wait` ran out; `ACTIVATION_FAILED` if the service that provides it failed to
   * start; `BAD_MONIKER`; `BAD_ARGUMENT` for bad options; `TABLE_UNAVAILABLE`; `ACCESS_DENIED`
   * or `PROTOCOL` if the owner's endpoint refuses us.
   */
  async get<T = Record<string, (...args: unknown[]) => unknown>, E extends EventMap<E> = AnyEvents>(
    moniker: string,
    options: GetOptions = {},
  ): Promise<Remote<T, E>> {
    checkOptions('get()', options, GET_OPTIONS);
    if (options.wait !== undefined) await this.waitFor(moniker, { timeout: options.wait });
    const target = await this.#resolve(moniker);
    // Subscriptions follow the name through the watch, and never start a service themselves.
    const following = {
      resolve: (m: string) => this.#resolve(m, false),
      // The subscription holds the process itself (follow.ts); its watch must not hold it as well.
      watch: (prefix: string, signal: AbortSignal) => this.#watch(prefix, signal, false),
    };
    return createRemote<T, E>(moniker, (m) => this.#resolve(m), this.#settings.debug, target, following);
  }

  /**
   * The entry of `moniker` once it is registered (at once if it is), starting the service that
   * provides it if a service file names it. Waits through the table's watch, never by polling.
   * @throws {RuntableError} `TIMEOUT` after `timeout` ms (default: the table's timeout);
   * `ABORTED` (or `TIMEOUT` for an `AbortSignal.timeout()`) when `signal` aborts;
   * `ACTIVATION_FAILED` when the service that provides it failed to start; `BAD_MONIKER`;
   * `BAD_ARGUMENT` for bad options; `TABLE_UNAVAILABLE`.
   */
  async waitFor(moniker: string, options: WaitOptions = {}): Promise<Entry> {
    this.#assertOpen();
    checkMoniker(moniker);
    checkOptions('waitFor()', options, WAIT_OPTIONS);
    const timeout = options.timeout ?? this.#settings.timeout;
    const entry = await waitForEntry(this.#backend, moniker, {
      timeout,
      activate: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return toPublicEntry(entry);
  }

  /**
   * The call statistics of the object registered under `moniker`, as its owner counted them since
   * it registered it: per method and in total, calls, errors by outcome, latency p50/p90/p99 and
   * max in ms. Asked of the owner itself; the broker never sees a call.
   * @throws {RuntableError} `NOT_REGISTERED`; `BAD_MONIKER`; `TABLE_UNAVAILABLE`; `PROTOCOL` from
   * an owner too old to keep statistics; `TIMEOUT`.
   */
  async stats(moniker: string): Promise<ObjectStats> {
    this.#assertOpen();
    return objectStats(this.#statsSource, moniker);
  }

  /**
   * The statistics of every entry under `prefix`, in moniker order: one request per owner
   * endpoint, not one per entry. An entry whose owner could not be asked (gone meanwhile, or too
   * old to keep statistics) is left out.
   * @throws {RuntableError} `BAD_MONIKER` for a bad prefix; `TABLE_UNAVAILABLE`.
   */
  async listStats(prefix = ''): Promise<ObjectStats[]> {
    this.#assertOpen();
    checkPrefix(prefix);
    return listObjectStats(this.#statsSource, prefix);
  }

  get #statsSource(): StatsSource {
    return {
      peers: this.#peers,
      lookup: (moniker) => this.#lookup(moniker),
      list: (prefix) => this.#backend.list(prefix),
    };
  }

  /** The service files the broker reads, each with its problem or its running process. */
  async services(): Promise<ServiceInfo[]> {
    this.#assertOpen();
    if (!this.#backend.services) {
      throw new RuntableError('BAD_ARGUMENT', 'service files and activation need a local table, not one on etcd');
    }
    return this.#backend.services();
  }

  /**
   * The entries under `prefix` now, as `registered` events, then every change as it happens
   * (`registered`, `changed` after a touch, `revoked`), until `return()` or the signal ends it.
   * A broker restart is followed without lost or doubled events.
   * @throws {RuntableError} `BAD_MONIKER` for a bad prefix and `TABLE_UNAVAILABLE` for a closed
   * table, at once (not from the iterator).
   */
  watch(prefix = '', options: WatchOptions = {}): TableWatch {
    checkPrefix(prefix);
    checkOptions('watch()', options, WATCH_OPTIONS);
    return this.#watch(prefix, options.signal, true);
  }

  #watch(prefix: string, signal: AbortSignal | undefined, holds: boolean): TableWatch {
    this.#assertOpen();
    const watch = new WatchStream(this.#backend, prefix, signal, () => this.#watches.delete(watch), holds);
    this.#watches.add(watch);
    return watch;
  }

  /**
   * A record of every call on the owners of monikers under `prefix`, as each call ends (one-way
   * calls, stream ends and callbacks included): who called what, how it ended, how long it took
   * and how many bytes it moved. Owners are found through the table's watch, so those that
   * register later are seen too; the broker never sees a call. Metadata only, unless `values`.
   * An owner drops records for a monitor that reads too slowly, and tells it how many (`missed`).
   *
   * @example
   * ```ts
   * for await (const rec of table.monitor('SampleServer/', { signal })) {
   *   console.log(rec.callerPid, '→', rec.ownerPid, `${rec.moniker}.${rec.method}`, rec.outcome, rec.ms);
   * }
   * ```
   * @throws {RuntableError} `BAD_MONIKER` for a bad prefix, `BAD_ARGUMENT` for bad options and
   * `TABLE_UNAVAILABLE` for a closed table, at once (not from the iterator).
   */
  monitor(prefix = '', options: MonitorOptions = {}): CallMonitor {
    checkPrefix(prefix);
    checkOptions('monitor()', options, MONITOR_OPTIONS);
    this.#assertOpen();
    const monitor: MonitorStream = new MonitorStream(
      this.#backend,
      (endpoint, pid) => this.#peers.connect(endpoint, pid),
      prefix,
      options,
      () => this.#monitors.delete(monitor),
    );
    this.#monitors.add(monitor);
    return monitor;
  }

  /**
   * The table's figures: which backend holds it, and the broker's pid, uptime (ms), entries,
   * connections, table directory, protocol version (on etcd, what TableStatus says instead).
   * @throws {RuntableError} `TABLE_UNAVAILABLE`.
   */
  async status(): Promise<TableStatus> {
    return this.#backend.status();
  }

  /**
   * Revokes this process's registrations, closes its connections and its endpoint. Calling it
   * again does nothing; other methods then reject with `TABLE_UNAVAILABLE`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Monitors end quietly, before the backend they watch goes.
    const monitors = Promise.all([...this.#monitors].map((monitor) => monitor.return()));
    const registrations = this.#registrations.endAll();
    // Revoked explicitly, so that once close() resolves no other process can still find them;
    // closing the connection alone would leave that to when the broker notices.
    await this.#backend.revokeAll(registrations.map((registration) => registration.moniker));
    await this.#backend.close();
    // A loop still waiting on a watch ends, as on abort: nothing more will come.
    await Promise.all([...this.#watches].map((watch) => watch.return()));
    await monitors;
    this.#peers.close();
    await this.#registrations.closeEndpoint();
  }

  /** `close()`, for `await using table = await connect()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #lookup(moniker: string): Promise<WireEntry | undefined> {
    checkMoniker(moniker);
    return this.#backend.lookup(moniker);
  }

  async #resolve(moniker: string, activate = true): Promise<Target> {
    this.#assertOpen();
    // Nobody holds it: the service that provides it, if any, is started and waited for.
    const entry = (await this.#lookup(moniker)) ?? (activate ? await this.#backend.activate?.(moniker) : undefined);
    if (!entry) throw new RuntableError('NOT_REGISTERED', `nothing is registered as ${moniker}`);
    try {
      const session = await this.#peers.connect(entry.endpoint, entry.pid);
      return { session, object: entry.object, pid: entry.pid };
    } catch (error) {
      throw ownerGone(moniker, entry, error);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new RuntableError('TABLE_UNAVAILABLE', 'this table is closed');
  }
}
