// A process's view of one running object table: connect() gives a Table, through which the
// process registers objects (as an owner) and finds and calls others (as a client). Naming goes
// to the broker; calls go straight to the owner's endpoint.

import { Endpoint } from './calls/endpoint.js';
import { exposedMethods } from './calls/exposure.js';
import { watchIdle } from './calls/idle.js';
import { type PeerOptions, Peers } from './calls/peers.js';
import { createRemote, type Target } from './calls/proxy.js';
import type { Remote } from './calls/types.js';
import { RuntableError } from './errors.js';
import type { NamingBackend } from './naming/backend.js';
import { BrokerLink } from './naming/broker-link.js';
import { type Entry, type TableWatch, toPublicEntry } from './naming/entry.js';
import { type DistributedOptions, etcdSettings } from './naming/etcd/settings.js';
import { checkMoniker, checkPrefix } from './naming/moniker.js';
import { waitForEntry } from './naming/wait.js';
import { WatchStream } from './naming/watch-stream.js';
import { Registration, type RegistrationHost } from './registration.js';
import { tcpNetwork, unixNetwork } from './transport/network.js';
import { prepareTableDir, resolveTableDir } from './transport/paths.js';
import { tableToken } from './transport/token.js';
import { type BrokerStatus, Kind, type ServiceInfo, type WireEntry } from './wire/protocol.js';

/** Default for connecting and for calls without a timeout of their own, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ConnectOptions extends DistributedOptions {
  /** The table directory; else RUNTABLE_DIR, else $XDG_RUNTIME_DIR/runtable, else a tmpdir one. */
  dir?: string;
  /** Start a broker when none runs; default true. */
  autoStart?: boolean;
  /** ms for connecting and for calls without their own; default 30000. */
  timeout?: number;
  /** Idle exit of a broker this process starts, ms; default 30000 (or RUNTABLE_BROKER_IDLE_MS). */
  brokerIdleTimeout?: number;
  /** Ask owners for remote stacks and send our own; default from RUNTABLE_DEBUG. */
  debug?: boolean;
  /** The largest whole message sent or taken on calls, bytes; default 1 GiB. */
  maxMessageBytes?: number;
  /**
   * Bytes a call peer may leave unread (beyond the one largest message) before its connection is
   * dropped, so a peer that stops reading cannot make this process buffer without bound; default 64 MiB.
   */
  maxPendingBytes?: number;
}

export interface RegisterOptions {
  /** Small JSON data shown by list, ls and the viewer. */
  metadata?: Record<string, unknown>;
  /** Take the moniker from its live owner, which is told it was lost. */
  replace?: boolean;
  /**
   * Wait in line for the moniker if it is taken (hot standby): register resolves when this
   * process becomes its owner, however long that takes. Excludes `replace`.
   */
  queue?: boolean;
  /** Aborting while waiting in line leaves the line; register then rejects with ABORTED. */
  signal?: AbortSignal;
  /** Narrow the exposed methods to these names. */
  expose?: string[];
  /** Emit 'idle' on the registration each time no client has been connected for `after` ms. */
  idle?: { after: number };
}

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

export interface WatchOptions {
  /** Aborting ends the iteration. */
  signal?: AbortSignal;
}

export async function connect(options: ConnectOptions = {}): Promise<Table> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!(timeout > 0)) throw new RuntableError('BAD_ARGUMENT', 'timeout must be a positive number of ms');
  const debug = options.debug ?? Boolean(process.env.RUNTABLE_DEBUG);
  if (options.maxPendingBytes !== undefined && !(options.maxPendingBytes > 0)) {
    throw new RuntableError('BAD_ARGUMENT', 'maxPendingBytes must be a positive number of bytes');
  }
  const limits = {
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    ...(options.maxPendingBytes ? { maxPendingBytes: options.maxPendingBytes } : {}),
  };
  const table = options.table ?? process.env.RUNTABLE_TABLE;
  if (table) {
    // A table spread over machines: names in etcd, calls over TCP.
    const settings = etcdSettings(table, options);
    // Loaded only here: etcd3 brings gRPC, which a process on the local table never needs.
    const { EtcdBackend } = await import('./naming/etcd/etcd-backend.js');
    const backend = await EtcdBackend.open(settings, timeout);
    const network = tcpNetwork(settings.listen, settings.tls);
    return new Table(table, backend, { timeout, debug, token: settings.token, network, ...limits });
  }
  const dir = resolveTableDir(options.dir);
  prepareTableDir(dir);
  const token = tableToken(dir);
  const envIdle = process.env.RUNTABLE_BROKER_IDLE_MS;
  const brokerIdleMs = options.brokerIdleTimeout ?? (envIdle ? Number(envIdle) : undefined);
  const link = await BrokerLink.open({
    dir,
    autoStart: options.autoStart ?? true,
    timeout,
    token,
    ...(brokerIdleMs === undefined ? {} : { brokerIdleMs }),
  });
  return new Table(dir, link, { timeout, debug, token, network: unixNetwork(dir), ...limits });
}

export class Table implements AsyncDisposable {
  /** The table directory this Table is connected to (the etcd address for a table on etcd). */
  readonly dir: string;
  readonly #link: NamingBackend;
  readonly #peers: Peers;
  readonly #settings: PeerOptions;
  #endpoint: Promise<Endpoint> | undefined;
  #openedEndpoint: Endpoint | undefined;
  readonly #registrations = new Set<Registration>();
  #closed = false;
  readonly #host: RegistrationHost;

  /** Use connect(). */
  constructor(dir: string, link: NamingBackend, settings: PeerOptions) {
    this.dir = dir;
    this.#link = link;
    this.#peers = new Peers(settings);
    this.#settings = settings;
    this.#host = {
      touch: (moniker, metadata) => this.#link.touch(moniker, metadata),
      revoke: (registration) => this.#revoke(registration),
      release: (registration) => this.#release(registration),
      emit: (registration, event, args) => this.#emit(registration, event, args),
    };
  }

  async register(moniker: string, object: object, options: RegisterOptions = {}): Promise<Registration> {
    this.#assertOpen();
    checkMoniker(moniker);
    if (typeof object !== 'object' || object === null) {
      throw new RuntableError('BAD_ARGUMENT', 'register needs an object whose methods it exposes');
    }
    if (options.queue && options.replace) {
      throw new RuntableError('BAD_ARGUMENT', 'replace and queue exclude each other: take the moniker or wait for it');
    }
    const signal = options.signal;
    if (signal?.aborted) throw abortedRegister(moniker, signal);
    if (options.queue && [...this.#registrations].some((r) => r.moniker === moniker && r.active)) {
      // Waiting behind ourselves would never end, and leaving the line would revoke what we hold.
      throw new RuntableError('ALREADY_REGISTERED', `this table already holds ${moniker}`);
    }
    const metadata = options.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new RuntableError('BAD_ARGUMENT', 'metadata must be a plain object');
    }
    const idleAfter = options.idle?.after;
    if (options.idle !== undefined && !(typeof idleAfter === 'number' && idleAfter > 0 && idleAfter < 2 ** 31)) {
      throw new RuntableError('BAD_ARGUMENT', 'idle.after must be a positive number of ms');
    }
    const methods = exposedMethods(object, options.expose);
    const endpoint = await this.#openEndpoint();
    const objectId = endpoint.add(object, methods);
    let registration: Registration | undefined;
    try {
      const message = {
        kind: Kind.Register,
        moniker,
        endpoint: endpoint.address,
        object: objectId,
        methods,
        metadata,
        ...(options.replace ? { replace: true } : {}),
        ...(options.queue ? { queue: true } : {}),
      } as const;
      // Made before the broker answers, so the link can keep it for replay; the reply's entry
      // replaces these provisional dates.
      const placeholder: WireEntry = { ...message, pid: process.pid, registeredAt: new Date(), changedAt: new Date() };
      registration = new Registration(this.#host, placeholder);
      // In line, the answer comes when this process becomes the owner, however long that takes.
      const waiting = options.queue ? { timeout: Number.POSITIVE_INFINITY, ...(signal ? { signal } : {}) } : {};
      try {
        registration.restored(await this.#link.register(registration, message, waiting));
      } catch (error) {
        if (!signal?.aborted || (error as RuntableError).code !== 'ABORTED') throw error;
        // The broker may still hold our place in line, or have just made us the owner: a Revoke ends either.
        await this.#link.revoke(moniker).catch(() => {});
        throw abortedRegister(moniker, signal);
      }
    } catch (error) {
      endpoint.remove(objectId);
      throw error;
    }
    this.#registrations.add(registration);
    if (idleAfter !== undefined) registration.trackIdle((idle) => watchIdle(endpoint, idleAfter, idle));
    return registration;
  }

  async list(prefix = ''): Promise<Entry[]> {
    checkPrefix(prefix);
    return this.#link.list(prefix);
  }

  async lookup(moniker: string): Promise<Entry | undefined> {
    const entry = await this.#lookup(moniker);
    return entry ? toPublicEntry(entry) : undefined;
  }

  async isRunning(moniker: string): Promise<boolean> {
    return (await this.#lookup(moniker)) !== undefined;
  }

  /**
   * A proxy of the object registered under `moniker`. Nobody holds it: a service file that names
   * it is started (activation), `wait` waits for it (TIMEOUT after), else NOT_REGISTERED.
   */
  async get<T = Record<string, (...args: unknown[]) => unknown>>(
    moniker: string,
    options: GetOptions = {},
  ): Promise<Remote<T>> {
    if (options.wait !== undefined) await this.waitFor(moniker, { timeout: checkWait(options.wait, 'wait') });
    const target = await this.#resolve(moniker);
    // Subscriptions follow the name through the watch, and never start a service themselves.
    const following = {
      resolve: (m: string) => this.#resolve(m, false),
      watch: (prefix: string, signal: AbortSignal) => this.watch(prefix, { signal }),
    };
    return createRemote<T>(moniker, (m) => this.#resolve(m), this.#settings.debug, target, following);
  }

  /**
   * The entry of `moniker` once it is registered (at once if it is), starting the service that
   * provides it if a service file names it; TIMEOUT, ABORTED or ACTIVATION_FAILED otherwise.
   */
  async waitFor(moniker: string, options: WaitOptions = {}): Promise<Entry> {
    this.#assertOpen();
    checkMoniker(moniker);
    const timeout = options.timeout === undefined ? this.#settings.timeout : checkWait(options.timeout, 'timeout');
    const entry = await waitForEntry(this.#link, moniker, {
      timeout,
      activate: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return toPublicEntry(entry);
  }

  /** The service files the broker reads, each with its problem or its running process. */
  async services(): Promise<ServiceInfo[]> {
    this.#assertOpen();
    if (!this.#link.services) {
      throw new RuntableError('BAD_ARGUMENT', 'service files and activation need a local table, not one on etcd');
    }
    return this.#link.services();
  }

  /** The entries under `prefix` now, as `registered` events, then every change as it happens. */
  watch(prefix = '', options: WatchOptions = {}): TableWatch {
    checkPrefix(prefix);
    this.#assertOpen();
    return new WatchStream(this.#link, prefix, options.signal);
  }

  /** The broker's own figures: pid, uptime, entries, connections. */
  async status(): Promise<BrokerStatus> {
    return this.#link.status();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const registrations = [...this.#registrations];
    this.#registrations.clear();
    for (const registration of registrations) registration.end();
    // Revoked explicitly, so that once close() resolves no other process can still find them;
    // closing the connection alone would leave that to when the broker notices.
    await this.#link.revokeAll(registrations.map((registration) => registration.moniker));
    await this.#link.close();
    this.#peers.close();
    const endpoint = await this.#endpoint?.catch(() => undefined);
    await endpoint?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #lookup(moniker: string): Promise<WireEntry | undefined> {
    checkMoniker(moniker);
    return this.#link.lookup(moniker);
  }

  async #resolve(moniker: string, activate = true): Promise<Target> {
    this.#assertOpen();
    // Nobody holds it: the service that provides it, if any, is started and waited for.
    const entry = (await this.#lookup(moniker)) ?? (activate ? await this.#link.activate?.(moniker) : undefined);
    if (!entry) throw new RuntableError('NOT_REGISTERED', `nothing is registered as ${moniker}`);
    try {
      const session = await this.#peers.connect(entry.endpoint, entry.pid);
      return { session, object: entry.object, pid: entry.pid };
    } catch (error) {
      if ((error as RuntableError).code !== 'OBJECT_GONE') throw error;
      // The owner died and the broker has not yet heard: to the caller, nothing is registered.
      throw new RuntableError(
        'NOT_REGISTERED',
        `nothing live is registered as ${moniker} (owner ${entry.pid} is gone)`,
        {
          cause: error,
        },
      );
    }
  }

  #openEndpoint(): Promise<Endpoint> {
    if (!this.#endpoint) {
      this.#endpoint = Endpoint.open({ dir: this.dir, ...this.#settings }).then((endpoint) => {
        this.#openedEndpoint = endpoint;
        return endpoint;
      });
      this.#endpoint.catch(() => {
        this.#endpoint = undefined;
      });
    }
    return this.#endpoint;
  }

  async #revoke(registration: Registration): Promise<void> {
    this.#link.disown(registration.moniker);
    try {
      if (!this.#closed) await this.#link.revoke(registration.moniker);
    } finally {
      // Served until the broker stops handing it out, so no caller finds a name with nothing behind it.
      this.#release(registration);
    }
  }

  #emit(registration: Registration, event: string, args: unknown[]): number {
    // Registered means the endpoint is open: register awaited it.
    const endpoint = this.#openedEndpoint;
    return endpoint ? endpoint.emit(registration.objectId, event, args) : 0;
  }

  #release(registration: Registration): void {
    this.#registrations.delete(registration);
    this.#openedEndpoint?.remove(registration.objectId);
  }

  #assertOpen(): void {
    if (this.#closed) throw new RuntableError('TABLE_UNAVAILABLE', 'this table is closed');
  }
}

function checkWait(ms: number, name: string): number {
  if (typeof ms !== 'number' || !(ms >= 0)) throw new RuntableError('BAD_ARGUMENT', `${name} must be a number of ms`);
  return ms;
}

function abortedRegister(moniker: string, signal: AbortSignal): RuntableError {
  return new RuntableError('ABORTED', `register of ${moniker} was aborted`, { cause: signal.reason });
}
