// A process's control connection to its table's broker. It survives broker restarts: it
// reconnects with backoff (starting a new broker if allowed), registers the process's monikers
// again and resumes its watches (link-watches.ts), so owners and watchers never notice more than a pause.

import fs from 'node:fs';
import { RuntableError } from '../errors.js';
import { guardTimer, holdUntil } from '../transport/keep-alive.js';
import { Connection, type RequestOptions } from '../wire/connection.js';
import {
  type Activate,
  Kind,
  type List,
  type Message,
  type Register,
  type ReplyValues,
  type Request,
  type ServiceInfo,
  type Services,
  type Status,
  type Unnumbered,
  type WireEntry,
} from '../wire/protocol.js';
import { toEntry } from '../wire/validate.js';
import type {
  NamingBackend,
  OwnedName,
  RegisterWaiting,
  RegistrationRecord,
  TableStatus,
  WatchSink,
} from './backend.js';
import { reachBroker } from './broker-start.js';
import type { Entry } from './entry.js';
import { LinkWatches } from './link-watches.js';
import { ListInParts } from './list-parts.js';
import { unpackNames } from './name-batch.js';

/** Reconnection waits start here and double up to the cap. */
const RECONNECT_FIRST_DELAY_MS = 10;
const RECONNECT_MAX_DELAY_MS = 1000;
/** How long close() waits for the broker to confirm its revokes. */
const CLOSE_REVOKE_TIMEOUT_MS = 1000;
/** Tries of the first connection, for a broker that exits on idle just as we arrive. */
const OPEN_ATTEMPTS = 3;

export interface LinkOptions {
  dir: string;
  autoStart: boolean;
  timeout: number;
  /** The table's token, sent in every Hello to the broker. */
  token: string;
  brokerIdleMs?: number;
}

export class BrokerLink implements NamingBackend {
  readonly #options: LinkOptions;
  #connection: Connection | undefined;
  /** Settles when a connection is usable again; undefined while connected. */
  #reconnecting: Promise<Connection> | undefined;
  #closing = false;
  readonly #owned = new Map<string, OwnedName>();
  readonly #watches = new LinkWatches();
  /** Lists answered in parts, by request id on the current connection. */
  readonly #lists = new Map<number, ListInParts>();
  /** The connection whose broker refused ListNames, being older: its names come from List. */
  #namesRefusedBy: Connection | undefined;

  private constructor(options: LinkOptions) {
    this.#options = options;
  }

  static async open(options: LinkOptions): Promise<BrokerLink> {
    const link = new BrokerLink(options);
    for (let attempt = 1; ; attempt++) {
      try {
        link.#connection = await link.#dial();
        return link;
      } catch (error) {
        // A broker that exits on idle just as we connect drops us mid-handshake: the next try
        // starts a new one.
        const closedEarly = (error as RuntableError).code === 'TABLE_UNAVAILABLE' && options.autoStart;
        if (!closedEarly || attempt >= OPEN_ATTEMPTS) throw error;
      }
    }
  }

  /** Pid of the broker currently connected, 0 while reconnecting. */
  get brokerPid(): number {
    return this.#connection?.peerPid ?? 0;
  }

  async request<R extends Request>(message: Unnumbered<R>, options?: RequestOptions): Promise<ReplyValues[R['kind']]> {
    // A request cut off by a broker restart never took effect in the new broker: send it again once.
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#connected();
      try {
        return await connection.request<R>(message, options);
      } catch (error) {
        if (attempt > 0 || !connection.closed || (error as RuntableError).code !== 'TABLE_UNAVAILABLE') throw error;
      }
    }
  }

  /** Registers `name`, and keeps it to register again after a broker restart once it is ours. */
  async register(name: OwnedName, record: RegistrationRecord, waiting?: RegisterWaiting): Promise<WireEntry> {
    const message: Unnumbered<Register> = { kind: Kind.Register, ...record };
    const reply = record.queue
      ? await this.#untilAnswered<Register>(message, waiting)
      : await this.request<Register>(message, waiting);
    const entry = toEntry(reply);
    this.#owned.set(name.moniker, name);
    return entry;
  }

  /**
   * A claim in line (or an Activate) lives only in the broker's memory and may wait long: each
   * time a restart cuts it off it is sent again to the next broker, however many restarts it
   * takes (until the table is closed, the wait aborted, or a broker stays away past the timeout).
   */
  async #untilAnswered<R extends Register | Activate>(
    message: Unnumbered<R>,
    options?: RequestOptions,
  ): Promise<ReplyValues[R['kind']]> {
    for (;;) {
      const connection = await this.#connected();
      try {
        return await connection.request<R>(message, options);
      } catch (error) {
        const cutOff = connection.closed && (error as RuntableError).code === 'TABLE_UNAVAILABLE';
        if (!cutOff || this.#closing || options?.signal?.aborted) throw error;
      }
    }
  }

  /** Resolves `moniker`, letting the broker start the service that provides it (see Activate). */
  async activate(moniker: string): Promise<WireEntry | undefined> {
    let entry: WireEntry | null;
    try {
      // The broker bounds the wait by the service file's timeout, and always answers.
      entry = await this.#untilAnswered<Activate>(
        { kind: Kind.Activate, moniker },
        { timeout: Number.POSITIVE_INFINITY },
      );
    } catch (error) {
      // A broker from before activation refuses the message kind: for it, nothing is activatable.
      if (isUnknownKind(error)) return undefined;
      throw error;
    }
    return entry === null ? undefined : toEntry(entry);
  }

  async services(): Promise<ServiceInfo[]> {
    try {
      return await this.request<Services>({ kind: Kind.Services });
    } catch (error) {
      if (!isUnknownKind(error)) throw error;
      throw new RuntableError(
        'PROTOCOL',
        `the broker of ${this.#options.dir} predates service files; stop it (runtable broker stop) so a current one starts`,
        { cause: error },
      );
    }
  }

  async revoke(moniker: string): Promise<void> {
    await this.request({ kind: Kind.Revoke, moniker });
  }

  async touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry> {
    return toEntry(await this.request({ kind: Kind.Touch, moniker, ...(metadata ? { metadata } : {}) }));
  }

  async list(prefix: string): Promise<Entry[]> {
    // A large List comes in parts, read as they arrive; a broker from before parts ignores the ask.
    let listing: ListInParts | undefined;
    let id = 0;
    const numbered = (next: number) => {
      if (this.#lists.get(id) === listing) this.#lists.delete(id);
      id = next;
      listing = new ListInParts();
      this.#lists.set(id, listing);
    };
    try {
      const value = await this.request<List>({ kind: Kind.List, prefix, parts: true }, { numbered });
      return await (listing as ListInParts).finish(value);
    } finally {
      if (this.#lists.get(id) === listing) this.#lists.delete(id);
    }
  }

  async listNames(prefix: string): Promise<string[]> {
    // A broker from before ListNames refuses kind 22: its List gives the same names, with their entries.
    if (this.#namesRefusedBy === undefined || this.#namesRefusedBy !== this.#connection) {
      try {
        return unpackNames(await this.request({ kind: Kind.ListNames, prefix }));
      } catch (error) {
        if (!isUnknownKind(error)) throw error;
        // Asked again of the next broker, after a restart: it may be a newer one.
        this.#namesRefusedBy = this.#connection;
      }
    }
    return (await this.list(prefix)).map((entry) => entry.moniker);
  }

  async lookup(moniker: string): Promise<WireEntry | undefined> {
    const entry = await this.request({ kind: Kind.Lookup, moniker });
    return entry === null ? undefined : toEntry(entry);
  }

  async status(): Promise<TableStatus> {
    return { ...(await this.request<Status>({ kind: Kind.Status })), backend: 'broker' };
  }

  disown(moniker: string): void {
    this.#owned.delete(moniker);
  }

  async watch(sink: WatchSink): Promise<void> {
    await this.#watches.add(await this.#connected(), sink);
  }

  async unwatch(sink: WatchSink): Promise<void> {
    await this.#watches.remove(sink, this.#connection);
  }

  /** Revokes these monikers if the broker is reachable now; never waits for a reconnection. */
  async revokeAll(monikers: string[]): Promise<void> {
    const connection = this.#connection;
    for (const moniker of monikers) this.#owned.delete(moniker);
    if (!connection || connection.closed || monikers.length === 0) return;
    await Promise.all(
      monikers.map((moniker) =>
        connection.request({ kind: Kind.Revoke, moniker }, { timeout: CLOSE_REVOKE_TIMEOUT_MS }).catch(() => {}),
      ),
    );
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#connection?.close();
    this.#connection = undefined;
  }

  async #connected(): Promise<Connection> {
    if (this.#connection && !this.#connection.closed) return this.#connection;
    if (this.#closing) throw new RuntableError('TABLE_UNAVAILABLE', 'the table is closed');
    const reconnecting = this.#reconnecting ?? this.#startReconnecting();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = guardTimer(this.#options.timeout, () =>
        reject(new RuntableError('TABLE_UNAVAILABLE', `the broker of ${this.#options.dir} is not back yet`)),
      );
    });
    try {
      // A caller waits on the reconnection: hold the process for it (the loop alone does not).
      return await holdUntil(Promise.race([reconnecting, timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  async #dial(): Promise<Connection> {
    const transport = await reachBroker(this.#options.dir, {
      autoStart: this.#options.autoStart,
      timeout: this.#options.timeout,
      ...(this.#options.brokerIdleMs === undefined ? {} : { idleMs: this.#options.brokerIdleMs }),
    });
    return Connection.connect(
      transport,
      {
        goneCode: 'TABLE_UNAVAILABLE',
        peerName: 'the broker',
        timeout: this.#options.timeout,
        token: this.#options.token,
      },
      (connection) => ({
        onMessage: (message) => this.#notice(message),
        // Only the link's current connection matters: one still being restored is simply dropped.
        onClose: () => {
          if (this.#connection !== connection) return;
          this.#connection = undefined;
          this.#watches.disconnected();
          for (const listing of this.#lists.values()) listing.lost();
          this.#lists.clear();
          if (!this.#closing) this.#startReconnecting();
        },
      }),
    );
  }

  #startReconnecting(): Promise<Connection> {
    const reconnecting = this.#reconnect().finally(() => {
      if (this.#reconnecting === reconnecting) this.#reconnecting = undefined;
    });
    // Nobody may be waiting on it; its failure is reported to owners and watchers instead.
    reconnecting.catch(() => {});
    this.#reconnecting = reconnecting;
    return reconnecting;
  }

  async #reconnect(): Promise<Connection> {
    let delay = 0;
    for (;;) {
      // Unref'd: the loop runs for whatever holds the process (keep-alive.ts), and holds nothing itself.
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
      if (this.#closing) throw new RuntableError('TABLE_UNAVAILABLE', 'the table is closed');
      let connection: Connection;
      try {
        connection = await this.#dial();
      } catch (error) {
        const final = finalError(error, this.#options.dir);
        if (final) {
          this.#giveUp(final);
          throw final;
        }
        delay = Math.min(Math.max(RECONNECT_FIRST_DELAY_MS, delay * 2), RECONNECT_MAX_DELAY_MS);
        continue;
      }
      try {
        await this.#restore(connection);
      } catch {
        connection.close();
        delay = Math.min(Math.max(RECONNECT_FIRST_DELAY_MS, delay * 2), RECONNECT_MAX_DELAY_MS);
        continue;
      }
      this.#connection = connection;
      if (connection.closed) continue;
      return connection;
    }
  }

  /** Registers every owned moniker again, then resumes every watch, on a fresh connection. */
  async #restore(connection: Connection): Promise<void> {
    await Promise.all(
      [...this.#owned.values()].map(async (name) => {
        try {
          name.restored(toEntry(await connection.request<Register>({ kind: Kind.Register, ...name.registration() })));
        } catch (error) {
          if ((error as RuntableError).code !== 'ALREADY_REGISTERED') throw error;
          // Another owner took the name while the broker was away.
          this.#owned.delete(name.moniker);
          name.lost(error as RuntableError);
        }
      }),
    );
    // Owners register first, so a watcher's snapshot already holds the entries that came back.
    await this.#watches.resume(connection);
  }

  #notice(message: Message): void {
    if (message.kind === Kind.TableEvent) this.#watches.deliver(message);
    else if (message.kind === Kind.ListPart) {
      this.#lists.get(message.id)?.add(message.value.part, message.value);
    } else if (message.kind === Kind.Lost) {
      const name = this.#owned.get(message.moniker);
      this.#owned.delete(message.moniker);
      name?.lost(new RuntableError('ALREADY_REGISTERED', `${message.moniker} was taken over by another owner`));
    }
  }

  #giveUp(error: RuntableError): void {
    for (const name of this.#owned.values()) name.lost(error);
    this.#owned.clear();
    this.#watches.fail(error);
  }
}

function isUnknownKind(error: unknown): boolean {
  return (error as RuntableError).code === 'PROTOCOL' && /unknown kind/.test((error as Error).message);
}

/** The table went away for good (no access, or its directory removed): reconnecting is pointless. */
function finalError(error: unknown, dir: string): RuntableError | undefined {
  if ((error as RuntableError).code === 'ACCESS_DENIED') return error as RuntableError;
  if (fs.existsSync(dir)) return undefined;
  return new RuntableError('TABLE_UNAVAILABLE', `the table directory ${dir} is gone`, { cause: error });
}
