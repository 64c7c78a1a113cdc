// An owner's endpoint: the socket on which its registered objects take calls and hand out
// events. One per Table, opened on first register. It invokes only exposed methods and sends an
// event only to the connections subscribed to it.

import { RuntableError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import { type Network, unixNetwork } from '../transport/network.js';
import type { Listener, Transport } from '../transport/transport.js';
import { Connection } from '../wire/connection.js';
import { type Call, Kind } from '../wire/protocol.js';
import { CallSession, noSuchMethod, type SessionHost } from './session.js';

/** Subscriptions one connection may hold. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 10_000;

interface Exposed {
  /** The moniker it was registered under, for messages. */
  moniker: string;
  target: object;
  methods: ReadonlySet<string>;
  /** Event name to the sessions subscribed to it. */
  subscribers: Map<string, Set<CallSession>>;
}

export interface EndpointOptions {
  dir: string;
  /** Where to listen; a Unix socket in `dir` when absent. */
  network?: Network;
  /** Include remote stacks in REMOTE failures even when the caller did not ask. */
  debug: boolean;
  /** Default timeout of what this side asks of callers (invoking their callbacks), ms. */
  timeout: number;
  /** The table's token; a Hello without it is refused. */
  token: string;
  /** The largest whole message taken or sent. */
  maxMessageBytes?: number;
  /** Unwritten bytes a client may leave before it is dropped (see DEFAULT_MAX_PENDING_WRITE_BYTES). */
  maxPendingBytes?: number;
}

export class Endpoint implements SessionHost {
  readonly #listener: Listener;
  readonly #objects = new Map<number, Exposed>();
  readonly #sessions = new Map<CallSession, number>();
  readonly #options: EndpointOptions;
  readonly #clientListeners = new Set<(count: number) => void>();
  #nextObject = 1;

  private constructor(listener: Listener, options: EndpointOptions) {
    this.#listener = listener;
    this.#options = options;
  }

  static async open(options: EndpointOptions): Promise<Endpoint> {
    // Connections that arrive before the constructor returns wait in `early`.
    let accept: (transport: Transport) => void = (transport) => early.push(transport);
    const early: Transport[] = [];
    const network = options.network ?? unixNetwork(options.dir);
    // Registrations hold the process, not the socket (keep-alive.ts): an owner that revoked all may end.
    const listener = await network.listen((transport) => accept(transport), {
      maxFrameBytes: MAX_FRAME_BYTES,
      holdsProcess: false,
    });
    const endpoint = new Endpoint(listener, options);
    accept = (transport) => endpoint.#accept(transport);
    for (const transport of early) accept(transport);
    return endpoint;
  }

  get address(): string {
    return this.#listener.address;
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
    this.#objects.set(id, { moniker, target, methods: new Set(methods), subscribers: new Map() });
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

  call(session: CallSession, call: Call): void {
    const exposed = this.#objects.get(call.target);
    if (!exposed) {
      // The caller's entry is stale and the method never ran, so it may look the moniker up again.
      if (call.id !== 0) {
        session.connection.replyError(
          call.id,
          new RuntableError('NOT_REGISTERED', `object ${call.target} is no longer registered at pid ${process.pid}`),
        );
      }
      return;
    }
    // Checked before the property is read: reading runs getters, and those are not exposed.
    const method = exposed.methods.has(call.method)
      ? (exposed.target as Record<string, unknown>)[call.method]
      : undefined;
    if (typeof method !== 'function') {
      if (call.id !== 0) {
        session.connection.replyError(
          call.id,
          new RuntableError('NO_SUCH_METHOD', noSuchMethod(exposed.moniker, call.method, exposed.methods)),
        );
      }
      return;
    }
    session.run(
      call.id,
      call.stack === true,
      call.method,
      method as (...args: unknown[]) => unknown,
      exposed.target,
      call.args,
    );
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

  #clientsChanged(): void {
    for (const listener of [...this.#clientListeners]) listener(this.#sessions.size);
  }

  #accept(transport: Transport): void {
    Connection.accept(transport, {
      goneCode: 'OBJECT_GONE',
      peerName: 'client',
      timeout: this.#options.timeout,
      token: this.#options.token,
      ...(this.#options.maxMessageBytes ? { maxMessageBytes: this.#options.maxMessageBytes } : {}),
      ...(this.#options.maxPendingBytes ? { maxPendingBytes: this.#options.maxPendingBytes } : {}),
    }).then(
      (connection) => {
        const session = new CallSession(connection, { host: this, debug: this.#options.debug });
        this.#sessions.set(session, 0);
        this.#clientsChanged();
      },
      () => {},
    );
  }
}
