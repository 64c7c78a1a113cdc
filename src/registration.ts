// A live registration: the owner's handle on one moniker. It re-registers itself after a broker
// restart or a lost lease (through its naming backend) and stops serving the object once revoked or lost.

import type { AnyEvents, EventMap } from './calls/types.js';
import { RuntableError } from './errors.js';
import type { RegistrationRecord } from './naming/backend.js';
import { type Entry, toPublicEntry } from './naming/entry.js';
import type { WireEntry } from './wire/protocol.js';

/** @internal What a Registration needs from its Table. */
export interface RegistrationHost {
  touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry>;
  revoke(registration: Registration): Promise<void>;
  /** Stops serving the object; the moniker is no longer ours. */
  release(registration: Registration): void;
  emit(registration: Registration, event: string, args: unknown[]): number;
}

/**
 * The owner's handle on one registered moniker, from {@link Table.register}: touch it, emit
 * events to subscribed clients, hear when it is `lost`, revoke it. Registrations survive broker
 * restarts on their own. `await using reg = await table.register(...)` revokes it at scope end.
 * `E` declares the events it emits (the map clients give `table.get<T, E>()`), so that emit()
 * checks names and arguments.
 */
// The backend's hooks (registration, restored, lost, end) are marked internal: stripped from the
// published .d.ts (stripInternal). The class satisfies naming/backend.ts's OwnedName by shape, not
// by an `implements` clause, which the .d.ts would keep without the methods it names.
export class Registration<E extends EventMap<E> = AnyEvents> implements AsyncDisposable {
  /** The moniker this registration holds. */
  readonly moniker: string;
  /** @internal The object's id on this process's endpoint. */
  readonly objectId: number;
  readonly #host: RegistrationHost;
  readonly #endpoint: string;
  #entry: WireEntry;
  #active = true;
  readonly #lostListeners = new Set<(reason: RuntableError) => void>();
  readonly #idleListeners = new Set<() => void>();
  /** Stops idle tracking (register's `idle` option); undefined without it. */
  #stopIdle: (() => void) | undefined;

  private constructor(host: RegistrationHost, entry: WireEntry) {
    this.#host = host;
    this.#entry = entry;
    this.moniker = entry.moniker;
    this.objectId = entry.object;
    this.#endpoint = entry.endpoint;
  }

  /** @internal Made by Table.register, never by users. */
  static create(host: RegistrationHost, entry: WireEntry): Registration {
    return new Registration(host, entry);
  }

  /** The entry as the table holds it. */
  get entry(): Entry {
    return toPublicEntry(this.#entry);
  }

  /** False once revoked or lost. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Notes a change (COM's NoteChangeTime): `changedAt` moves and watchers see `changed`; with
   * `metadata`, the entry's metadata is replaced by it.
   * @throws {RuntableError} `NOT_REGISTERED` once revoked or lost; `BAD_ARGUMENT` for metadata
   * too large or deep; `TABLE_UNAVAILABLE`.
   */
  async touch(metadata?: Record<string, unknown>): Promise<Entry> {
    this.#assertActive();
    this.#entry = await this.#host.touch(this.moniker, metadata);
    return this.entry;
  }

  /**
   * Sends an event to every client subscribed to it with on(proxy, event, listener). Returns how
   * many connections were told; events are not queued for clients that subscribe later.
   */
  emit<K extends keyof E & string>(event: K, ...args: E[K]): number {
    if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
    if (!this.#active) return 0;
    return this.#host.emit(this, event, args);
  }

  /**
   * `'lost'`: the moniker was taken by another owner (`replace`), or the table went away for good
   * (an etcd lease that could not be renewed in time); the object is no longer served.
   * `'idle'` (with register's `idle: { after }`): no client has been connected for that long.
   * @throws {RuntableError} `BAD_ARGUMENT` for any other event name.
   */
  on(event: 'lost', listener: (reason: RuntableError) => void): this;
  on(event: 'idle', listener: () => void): this;
  on(event: 'lost' | 'idle', listener: ((reason: RuntableError) => void) | (() => void)): this {
    if (event === 'lost') this.#lostListeners.add(listener);
    else if (event === 'idle') this.#idleListeners.add(listener as () => void);
    else throw new RuntableError('BAD_ARGUMENT', `a registration has no "${String(event)}" event`);
    return this;
  }

  /** Removes a listener added with `on('lost', ...)` or `on('idle', ...)`. */
  off(event: 'lost' | 'idle', listener: ((reason: RuntableError) => void) | (() => void)): this {
    if (event === 'lost') this.#lostListeners.delete(listener);
    else if (event === 'idle') this.#idleListeners.delete(listener as () => void);
    return this;
  }

  /** @internal Starts telling 'idle' listeners; `start` gets the function to call and returns its stop. */
  trackIdle(start: (idle: () => void) => () => void): void {
    this.#stopIdle = start(() => {
      if (!this.#active) return;
      for (const listener of [...this.#idleListeners]) listener();
    });
  }

  /**
   * Takes the moniker out of the table: watchers see `revoked` and, once this resolves, no
   * process can find it. Calling it again, or after `lost`, does nothing.
   */
  async revoke(): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    this.#stopIdle?.();
    await this.#host.revoke(this);
  }

  /** `revoke()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.revoke();
  }

  // --- OwnedName, for the naming backend ---

  /** @internal What claims this moniker again after a broker restart or a lost lease. */
  registration(): RegistrationRecord {
    const { moniker, object, methods, metadata, registeredAt, changedAt } = this.#entry;
    return {
      moniker,
      endpoint: this.#endpoint,
      object,
      methods,
      metadata,
      registeredAt,
      changedAt,
    };
  }

  /** @internal The entry as the backend holds it again. */
  restored(entry: WireEntry): void {
    this.#entry = entry;
  }

  /** @internal The moniker is no longer ours: stop serving it and tell the listeners. */
  lost(reason: RuntableError): void {
    if (!this.#active) return;
    this.#active = false;
    this.#stopIdle?.();
    this.#host.release(this);
    for (const listener of this.#lostListeners) listener(reason);
  }

  /** @internal Marks the registration ended without telling anyone: its table is closing. */
  end(): void {
    this.#active = false;
    this.#stopIdle?.();
  }

  #assertActive(): void {
    if (!this.#active)
      throw new RuntableError('NOT_REGISTERED', `${this.moniker} is no longer registered by this process`);
  }
}
