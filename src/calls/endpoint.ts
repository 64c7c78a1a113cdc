// An owner's endpoint: the socket on which its registered objects take calls and hand out
// events. One per Table, opened on first register. It invokes only exposed methods and sends an
// event only to the connections subscribed to it.

import { RuntableError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import type { Listener, Transport } from '../transport/transport.js';
import { Connection } from '../wire/connection.js';
import { Kind, type Monitor, type Statistics, type StatisticsReport, type Unmonitor } from '../wire/protocol.js';
import type { SessionHost } from './host-requests.js';
import { ownerMonitors } from './monitor-owner.js';
import { noSuchMethod, type Served } from './served-calls.js';
import { CallSession } from './session.js';
import type { CallSettings } from './settings.js';
import { ObjectCounters } from './statistics.js';

/** Subscriptions one connection may hold. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 10_000;

interface Exposed {
  /** The moniker it was registered under, for messages. */
  moniker: string;
  target: object;
  methods: ReadonlySet<string>;
  /** Event name to the sessions subscribed to it. */
  subscribers: Map<string, Set<CallSession>>;
  /** Its call statistics, from when it was added. */
  counters: ObjectCounters;
  /** What find() hands out per method, made on its first call: a call allocates none. */
  served: Map<string, Served>;
  /** The one find() handed out last: a run of calls to one method skips both look-ups. */
  last: Served | undefined;
}

export class Endpoint implements SessionHost {
  /** Set by open(), before the endpoint is handed to anyone. */
  #listener!: Listener;
  readonly #objects = new Map<number, Exposed>();
  readonly #sessions = new Map<CallSession, number>();
  readonly #options: CallSettings;
  readonly #clientListeners = new Set<(count: number) => void>();
  #nextObject = 1;

  private constructor(options: CallSettings) {
    this.#options = options;
  }

  static async open(options: CallSettings): Promise<Endpoint> {
    // Made before it listens, so that a connection arriving at once finds it ready.
    const endpoint = new Endpoint(options);
    // Registrations hold the process, not the socket (keep-alive.ts): an owner that revoked all may end.
    endpoint.#listener = await options.network.listen((transport) => endpoint.#accept(transport), {
      maxFrameBytes: MAX_FRAME_BYTES,
      holdsProcess: false,
    });
    return endpoint;
  }

  get address(): string {
    return this.#listener.address;
  }

  /** The sessions of the client connections open now (for the tests' leak checks). */
  get sessions(): CallSession[] {
    return [...this.#sessions.keys()];
  }

  /** Client connections open now. */
  get clients(): number {
    return this.#sessions.size;
  }

  /** Told the number of client connections each time one opens or closes; returns the stop function. */
  onClients(listener: (count: number) => void): () => void {
    this.#clientListeners.add(listener);
    return () => this.#clientListeners.delete(listener);
  }

  /** Starts serving `target`; returns its object id, never reused on this endpoint. */
  add(target: object, methods: readonly string[], moniker: string): number {
    const id = this.#nextObject++;
    this.#objects.set(id, {
      moniker,
      target,
      methods: new Set(methods),
      subscribers: new Map(),
      counters: new ObjectCounters(moniker, id, methods),
      served: new Map(),
      last: undefined,
    });
    return id;
  }

  remove(id: number): void {
    const exposed = this.#objects.get(id);
    if (!exposed) return;
    this.#objects.delete(id);
    for (const sessions of exposed.subscribers.values()) {
      for (const session of sessions) this.#sessions.set(session, (this.#sessions.get(session) ?? 1) - 1);
    }
  }

  /** Sends an event of object `id` to every connection subscribed to it; returns how many. */
  emit(id: number, event: string, args: unknown[]): number {
    if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
    const sessions = this.#objects.get(id)?.subscribers.get(event);
    if (!sessions) return 0;
    let told = 0;
    for (const session of sessions) {
      if (session.closed) continue;
      session.notify({ kind: Kind.Event, target: id, event, args });
      told++;
    }
    return told;
  }

  async close(): Promise<void> {
    for (const session of this.#sessions.keys()) session.connection.close();
    await this.#listener.close();
  }

  // --- SessionHost ---

  find(target: number, method: string): Served | RuntableError {
    const exposed = this.#objects.get(target);
    if (!exposed) {
      // The caller's entry is stale and the method never ran, so it may look the moniker up again.
      return new RuntableError('NOT_REGISTERED', `object ${target} is no longer registered at pid ${process.pid}`);
    }
    const last = exposed.last;
    if (last !== undefined && last.what === method) {
      // Exposed already (methods never change); the function is read again, as below.
      if ((exposed.target as Record<string, unknown>)[method] === last.fn) return last;
    }
    // Checked before the property is read: reading runs getters, and those are not exposed.
    const fn = exposed.methods.has(method) ? (exposed.target as Record<string, unknown>)[method] : undefined;
    if (typeof fn !== 'function') {
      exposed.counters.unknownMethod();
      return new RuntableError('NO_SUCH_METHOD', noSuchMethod(exposed.moniker, method, exposed.methods));
    }
    // The function is read on every call (the object may replace it); the rest stays.
    let served = exposed.served.get(method);
    if (served === undefined || served.fn !== fn) {
      served = {
        fn: fn as (...args: unknown[]) => unknown,
        thisArg: exposed.target,
        what: method,
        moniker: exposed.moniker,
        counter: exposed.counters.method(method),
      };
      exposed.served.set(method, served);
    }
    exposed.last = served;
    return served;
  }

  statistics(request: Statistics): StatisticsReport[] {
    const { moniker, prefix } = request;
    const reports: StatisticsReport[] = [];
    for (const exposed of this.#objects.values()) {
      const wanted = moniker !== undefined ? exposed.moniker === moniker : exposed.moniker.startsWith(prefix ?? '');
      if (wanted) reports.push(exposed.counters.report());
    }
    return reports.sort((a, b) => (a.moniker < b.moniker ? -1 : a.moniker > b.moniker ? 1 : a.object - b.object));
  }

  subscribe(session: CallSession, target: number, event: string): void {
    const exposed = this.#objects.get(target);
    if (!exposed) throw new RuntableError('NOT_REGISTERED', `object ${target} is no longer registered here`);
    const count = this.#sessions.get(session) ?? 0;
    let sessions = exposed.subscribers.get(event);
    if (sessions?.has(session)) return;
    if (count >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new RuntableError(
        'BAD_ARGUMENT',
        `one connection may hold at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions`,
      );
    }
    if (!sessions) {
      sessions = new Set();
      exposed.subscribers.set(event, sessions);
    }
    sessions.add(session);
    this.#sessions.set(session, count + 1);
  }

  unsubscribe(session: CallSession, target: number, event: string): void {
    const subscribers = this.#objects.get(target)?.subscribers;
    const sessions = subscribers?.get(event);
    if (!sessions?.delete(session)) return;
    if (sessions.size === 0) subscribers?.delete(event);
    this.#sessions.set(session, (this.#sessions.get(session) ?? 1) - 1);
  }

  closed(session: CallSession): void {
    if (this.#sessions.delete(session)) this.#clientsChanged();
    for (const exposed of this.#objects.values()) {
      for (const [event, sessions] of exposed.subscribers) {
        if (sessions.delete(session) && sessions.size === 0) exposed.subscribers.delete(event);
      }
    }
  }

  monikerOf(target: number): string | undefined {
    return this.#objects.get(target)?.moniker;
  }

  monitor(session: CallSession, message: Monitor | Unmonitor): void {
    ownerMonitors.handle(this, session, message);
  }

  #clientsChanged(): void {
    for (const listener of [...this.#clientListeners]) listener(this.#sessions.size);
  }

  #accept(transport: Transport): void {
    Connection.accept(
      transport,
      {
        goneCode: 'OBJECT_GONE',
        peerName: 'client',
        timeout: this.#options.timeout,
        token: this.#options.token,
        limits: this.#options.limits,
      },
      (connection) => {
        const session = new CallSession(connection, { host: this, debug: this.#options.debug });
        this.#sessions.set(session, 0);
        this.#clientsChanged();
        return session.handlers;
      },
    ).catch(() => {});
  }
}
