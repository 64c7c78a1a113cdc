// A live registration: the owner's handle on one moniker. It re-registers itself after a broker
// restart or a lost lease (through its naming backend) and stops serving the object once revoked or lost.

import { RuntableError } from './errors.js';
import type { OwnedName } from './naming/backend.js';
import { type Entry, toPublicEntry } from './naming/entry.js';
import { Kind, type Register, type Unnumbered, type WireEntry } from './wire/protocol.js';

/** What a Registration needs from its Table. */
export interface RegistrationHost {
  touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry>;
  revoke(registration: Registration): Promise<void>;
  /** Stops serving the object; the moniker is no longer ours. */
  release(registration: Registration): void;
  emit(registration: Registration, event: string, args: unknown[]): number;
}

export class Registration implements OwnedName, AsyncDisposable {
  readonly moniker: string;
  /** The object's id on this process's endpoint. */
  readonly objectId: number;
  readonly #host: RegistrationHost;
  readonly #endpoint: string;
  #entry: WireEntry;
  #active = true;
  readonly #lostListeners = new Set<(reason: RuntableError) => void>();
  readonly #idleListeners = new Set<() => void>();
  /** Stops idle tracking (register's `idle` option); undefined without it. */
  #stopIdle: (() => void) | undefined;

  constructor(host: RegistrationHost, entry: WireEntry) {
    this.#host = host;
    this.#entry = entry;
    this.moniker = entry.moniker;
    this.objectId = entry.object;
    this.#endpoint = entry.endpoint;
  }

  /** The entry as the table holds it. */
  get entry(): Entry {
    return toPublicEntry(this.#entry);
  }

  /** False once revoked or lost. */
  get active(): boolean {
    return this.#active;
  }

  /** Notes a change (COM's NoteChangeTime): changedAt moves and watchers see `changed`. */
  async touch(metadata?: Record<string, unknown>): Promise<Entry> {
    this.#assertActive();
    this.#entry = await this.#host.touch(this.moniker, metadata);
    return this.entry;
  }

  /**
   * Sends an event to every client subscribed to it with on(proxy, event, listener). Returns how
   * many connections were told; events are not queued for clients that subscribe later.
   */
  emit(event: string, ...args: unknown[]): number {
    if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
    if (!this.#active) return 0;
    return this.#host.emit(this, event, args);
  }

  /**
   * 'lost': the moniker was replaced by another owner, or the table went away for good.
   * 'idle' (with register's `idle: { after }`): no client has been connected for that long.
   */
  on(event: 'lost', listener: (reason: RuntableError) => void): this;
  on(event: 'idle', listener: () => void): this;
  on(event: 'lost' | 'idle', listener: ((reason: RuntableError) => void) | (() => void)): this {
    if (event === 'lost') this.#lostListeners.add(listener);
    else if (event === 'idle') this.#idleListeners.add(listener as () => void);
    else throw new RuntableError('BAD_ARGUMENT', `a registration has no "${String(event)}" event`);
    return this;
  }

  off(event: 'lost' | 'idle', listener: ((reason: RuntableError) => void) | (() => void)): this {
    if (event === 'lost') this.#lostListeners.delete(listener);
    else if (event === 'idle') this.#idleListeners.delete(listener as () => void);
    return this;
  }

  /** Starts telling 'idle' listeners; `start` gets the function to call and returns its stop. */
  trackIdle(start: (idle: () => void) => () => void): void {
    this.#stopIdle = start(() => {
      if (!this.#active) return;
      for (const listener of [...this.#idleListeners]) listener();
    });
  }

  async revoke(): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    this.#stopIdle?.();
    await this.#host.revoke(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.revoke();
  }

  // --- OwnedName, for the naming backend ---

  registration(): Unnumbered<Register> {
    const { moniker, object, methods, metadata, registeredAt, changedAt } = this.#entry;
    return {
      kind: Kind.Register,
      moniker,
      endpoint: this.#endpoint,
      object,
      methods,
      metadata,
      registeredAt,
      changedAt,
    };
  }

  restored(entry: WireEntry): void {
    this.#entry = entry;
  }

  lost(reason: RuntableError): void {
    if (!this.#active) return;
    this.#active = false;
    this.#stopIdle?.();
    this.#host.release(this);
    for (const listener of this.#lostListeners) listener(reason);
  }

  /** Marks the registration ended without telling anyone: its table is closing. */
  end(): void {
    this.#active = false;
    this.#stopIdle?.();
  }

  #assertActive(): void {
    if (!this.#active)
      throw new RuntableError('NOT_REGISTERED', `${this.moniker} is no longer registered by this process`);
  }
}
