// The owner side of a Table: register() and what a live Registration asks of its table (touch,
// revoke, release, emit), with the endpoint that serves this process's objects, opened on its
// first registration. The Table keeps the client side and closes this one.

import { Endpoint } from './calls/endpoint.js';
import { exposedMethods } from './calls/exposure.js';
import { watchIdle } from './calls/idle.js';
import type { CallSettings } from './calls/settings.js';
import type { AnyEvents, EventMap } from './calls/types.js';
import { RuntableError, signalError } from './errors.js';
import type { NamingBackend, RegistrationRecord } from './naming/backend.js';
import { checkMoniker } from './naming/moniker.js';
import { boolean, checkOptions, plainObject, signal, strings } from './options.js';
import { Registration, type RegistrationHost } from './registration.js';
import { hold, release } from './transport/keep-alive.js';
import type { WireEntry } from './wire/protocol.js';

/** Options of {@link Table.register}. */
export interface RegisterOptions {
  /** Small JSON data shown by list, `runtable ls` and the viewer. Default `{}`. */
  metadata?: Record<string, unknown>;
  /** Take the moniker from its live owner, whose registration emits `lost`. Default `false`. */
  replace?: boolean;
  /**
   * Wait in line for the moniker if it is taken (hot standby): register resolves when this
   * process becomes its owner, however long that takes. Excludes `replace`. Default `false`.
   */
  queue?: boolean;
  /** Aborting while waiting in line leaves the line; register then rejects with `ABORTED`. */
  signal?: AbortSignal;
  /**
   * Narrow the exposed methods to these names. Default: the object's own and prototype methods,
   * except `constructor`, names beginning with `_` and what `Object.prototype` has.
   */
  expose?: string[];
  /** Emit 'idle' on the registration each time no client has been connected for `after` ms. */
  idle?: { after: number };
}

const REGISTER_OPTIONS = {
  metadata: plainObject,
  replace: boolean,
  queue: boolean,
  signal,
  expose: strings,
  idle: plainObject,
};

/** @internal This process's registrations on one table, and the endpoint that serves them. */
export class TableRegistrations implements RegistrationHost {
  readonly #backend: NamingBackend;
  readonly #settings: CallSettings;
  /** Whether the Table is closed: a revoke then leaves the broker to the close. */
  readonly #closed: () => boolean;
  #endpoint: Promise<Endpoint> | undefined;
  #openedEndpoint: Endpoint | undefined;
  readonly #registrations = new Set<Registration>();

  constructor(backend: NamingBackend, settings: CallSettings, closed: () => boolean) {
    this.#backend = backend;
    this.#settings = settings;
    this.#closed = closed;
  }

  /** Table.register, after its check that the table is open. */
  async register<E extends EventMap<E> = AnyEvents>(
    moniker: string,
    object: object,
    options: RegisterOptions,
  ): Promise<Registration<E>> {
    checkMoniker(moniker);
    checkOptions('register()', options, REGISTER_OPTIONS);
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
    if (methods.length === 0 && !options.expose) {
      // Not refused: an entry with metadata and events only is a use. But it is more often a mistake.
      process.emitWarning(
        `${moniker} exposes no methods, so callers can find it and hear its events but call nothing (methods inherited from Node's built-in classes, such as EventEmitter's, are not exposed unless named); pass expose: [] if that is meant, or expose: ['name', ...]`,
        { type: 'RuntableWarning', code: 'RUNTABLE_NOTHING_EXPOSED' },
      );
    }
    const endpoint = await this.#openEndpoint();
    const objectId = endpoint.add(object, methods, moniker);
    let registration: Registration | undefined;
    try {
      const record: RegistrationRecord = {
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
      const placeholder: WireEntry = { ...record, pid: process.pid, registeredAt: new Date(), changedAt: new Date() };
      registration = Registration.create(this, placeholder);
      // In line, the answer comes when this process becomes the owner, however long that takes.
      const waiting = options.queue ? { timeout: Number.POSITIVE_INFINITY, ...(signal ? { signal } : {}) } : {};
      try {
        registration.restored(await this.#backend.register(registration, record, waiting));
      } catch (error) {
        const code = (error as RuntableError).code;
        if (!signal?.aborted || (code !== 'ABORTED' && code !== 'TIMEOUT')) throw error;
        // The broker may still hold our place in line, or have just made us the owner: a Revoke ends either.
        await this.#backend.revoke(moniker).catch(() => {});
        throw abortedRegister(moniker, signal);
      }
    } catch (error) {
      endpoint.remove(objectId);
      throw error;
    }
    // A live registration holds the process, as a server's listening socket would (keep-alive.ts).
    if (registration.active && !this.#registrations.has(registration)) {
      this.#registrations.add(registration);
      hold();
    }
    if (idleAfter !== undefined) registration.trackIdle((idle) => watchIdle(endpoint, idleAfter, idle));
    return registration as Registration<E>;
  }

  /** Ends every registration (the Table revokes them next) and returns them. */
  endAll(): Registration[] {
    const registrations = [...this.#registrations];
    this.#registrations.clear();
    for (const registration of registrations) {
      registration.end();
      release();
    }
    return registrations;
  }

  /** Closes the endpoint, if one was opened. */
  async closeEndpoint(): Promise<void> {
    const endpoint = await this.#endpoint?.catch(() => undefined);
    await endpoint?.close();
  }

  touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry> {
    return this.#backend.touch(moniker, metadata);
  }

  #openEndpoint(): Promise<Endpoint> {
    if (!this.#endpoint) {
      this.#endpoint = Endpoint.open(this.#settings).then((endpoint) => {
        this.#openedEndpoint = endpoint;
        return endpoint;
      });
      this.#endpoint.catch(() => {
        this.#endpoint = undefined;
      });
    }
    return this.#endpoint;
  }

  async revoke(registration: Registration): Promise<void> {
    this.#backend.disown(registration.moniker);
    try {
      if (!this.#closed()) await this.#backend.revoke(registration.moniker);
    } finally {
      // Served until the broker stops handing it out, so no caller finds a name with nothing behind it.
      this.release(registration);
    }
  }

  emit(registration: Registration, event: string, args: unknown[]): number {
    // Registered means the endpoint is open: register awaited it.
    const endpoint = this.#openedEndpoint;
    return endpoint ? endpoint.emit(registration.objectId, event, args) : 0;
  }

  release(registration: Registration): void {
    if (this.#registrations.delete(registration)) release();
    this.#openedEndpoint?.remove(registration.objectId);
  }
}

function abortedRegister(moniker: string, signal: AbortSignal): RuntableError {
  return signalError(signal, `register of ${moniker}`);
}
