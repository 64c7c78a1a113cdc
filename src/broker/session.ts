// One control connection as the broker sees it: the requests it may make, its watches and its
// claims waiting in line. Every limit on what one connection may ask is named and enforced here.

import { RuntableError } from '../errors.js';
import { checkMetadata, entryOf } from '../naming/entry-rules.js';
import { checkMoniker, checkPrefix } from '../naming/moniker.js';
import { MAX_SOCKET_PATH_BYTES } from '../transport/paths.js';
import type { Connection, ConnectionHandlers } from '../wire/connection.js';
import { type BrokerStatus, Kind, type Message, type WireEntry } from '../wire/protocol.js';
import type { Activations } from './activation.js';
import type { IdleCollector } from './idle-gc.js';
import { LIST_PART_ROWS, listInParts } from './list-parts.js';
import { sweepEndpoints } from './sweep.js';
import type { Claim, ObjectTable, OwnerId, OwnerRevokeResult } from './table.js';

/** Methods one entry may list. */
export const MAX_METHODS_PER_ENTRY = 1024;
/** Monikers one control connection may hold. */
export const MAX_MONIKERS_PER_OWNER = 100_000;
/** Monikers one control connection may wait in line for at once (`queue`). */
export const MAX_QUEUED_PER_OWNER = 1024;
/** Watches one control connection may keep open. */
export const MAX_WATCHES_PER_CONNECTION = 1024;
/** Activate requests one control connection may have waiting for a service at once. */
export const MAX_ACTIVATIONS_PER_CONNECTION = 1024;
/**
 * After an owner leaves, how long its log line and the first look for its endpoint files wait:
 * until the watchers have read their events. On two CPUs a watcher woken by the broker's write
 * can wait for the broker's CPU, and this work, run at once, doubled the time until it was told.
 */
const AFTER_LEAVING_MS = 20;

/** What every session shares: the table, the other sessions, and the broker's own state. */
export interface Shared {
  table: ObjectTable;
  sessions: Map<OwnerId, Session>;
  status: () => BrokerStatus;
  log: (line: string) => void;
  dir: string;
  /** True while a restarted broker gives owners time to register their monikers again. */
  restoring: () => boolean;
  /** Starts the commands of service files on demand. */
  activations: Activations;
  /** Told of every request: collects garbage once a burst of them is over. */
  idle: IdleCollector;
}

/** Answers the queued Registers of claims that just became owners, whichever session they are. */
export function handOver(promoted: Claim[], shared: Shared): void {
  for (const claim of promoted) {
    shared.log(`${claim.entry.moniker} handed over to pid ${claim.entry.pid}`);
    shared.sessions.get(claim.owner)?.promoted(claim.entry);
  }
}

/**
 * While an owner's entries leave (Session.leave): the connections whose watchers were sent events,
 * written to at once rather than at the end of the tick.
 */
let telling: Set<Connection> | undefined;

/**
 * A session for a connection whose handshake just succeeded, and the handlers its connection
 * calls: on close, the session's entries leave and its watchers are told before anything else.
 */
export function openSession(
  owner: OwnerId,
  connection: Connection,
  shared: Shared,
  ended: () => void,
): ConnectionHandlers {
  const session = new Session(owner, connection, shared);
  shared.sessions.set(owner, session);
  return {
    onMessage: (message) => session.handle(message),
    onEnd: () => session.leave(),
    onClose: () => {
      shared.sessions.delete(owner);
      session.end();
      ended();
    },
  };
}

/** #answer's value for a request answered later: a queued Register. */
const DEFERRED = Symbol('deferred');

/** One control connection: its watches, its claims waiting in line, and the requests it may make. */
export class Session {
  readonly #watches = new Map<number, () => void>();
  /** Moniker to the id of the queued Register waiting for it, answered on promotion. */
  readonly #queued = new Map<string, number>();
  /** Activate requests waiting for their service. */
  #activating = 0;
  /** What leave() took from the table, for end() to finish. */
  #left: OwnerRevokeResult | undefined;
  /** Messages that came while a List went out in parts (list-parts.ts): handled after its Reply. */
  #held: Message[] | undefined;

  constructor(
    readonly owner: OwnerId,
    readonly connection: Connection,
    readonly shared: Shared,
  ) {}

  handle(message: Message): void {
    if (this.#held !== undefined) {
      this.#held.push(message);
      return;
    }
    if (!('id' in message)) {
      this.connection.replyError(
        0,
        new RuntableError('PROTOCOL', `the broker does not take messages of kind ${message.kind}`),
      );
      return;
    }
    this.shared.idle.note();
    try {
      const value = this.#answer(message);
      if (value !== DEFERRED) this.connection.reply(message.id, value);
    } catch (error) {
      if (!(error instanceof RuntableError)) throw error;
      this.connection.replyError(message.id, error);
    }
  }

  /** Handles the messages held while a List went out in parts, in order; drops them once closed. */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (let i = 0; i < held.length && !this.connection.closed; i++) {
      // One of them may be another List in parts: the rest wait for it in turn.
      if (this.#held !== undefined) {
        (this.#held as Message[]).push(...held.slice(i));
        return;
      }
      this.handle(held[i] as Message);
    }
  }

  /**
   * The connection has closed: its entries and claims leave the table, and the watchers' events
   * are written before anything else is done (end() does the rest), so that a watcher of an
   * owner that died is told as soon as the broker can.
   */
  leave(): OwnerRevokeResult {
    if (this.#left) return this.#left;
    this.unwatch();
    telling = new Set();
    try {
      this.#left = this.shared.table.revokeOwner(this.owner);
    } finally {
      const told = telling;
      telling = undefined;
      for (const connection of told) connection.flush();
    }
    return this.#left;
  }

  /** Stops this session's watches: its connection is told of no more changes. */
  unwatch(): void {
    for (const stop of this.#watches.values()) stop();
    this.#watches.clear();
  }

  end(): void {
    const { revoked, promoted, left } = this.leave();
    this.#queued.clear();
    handOver(promoted, this.shared);
    if (revoked.length === 0 && left.length === 0) return;
    // The watchers' events are written (leave()); the log line and the look at /proc for the
    // owner's endpoint files wait until the watchers have read them.
    const pid = this.connection.peerPid;
    setTimeout(() => {
      this.shared.log(`pid ${pid} left; revoked ${revoked.length} entries, left ${left.length} lines`);
      if (revoked.length > 0) sweepEndpoints(this.shared.dir, pid, revoked);
    }, AFTER_LEAVING_MS).unref();
  }

  /** The claim this session queued for `entry.moniker` holds it now: answer its Register. */
  promoted(entry: WireEntry): void {
    const id = this.#queued.get(entry.moniker);
    this.#queued.delete(entry.moniker);
    if (id !== undefined) this.connection.reply(id, entry);
  }

  #answer(message: Message & { id: number }): unknown {
    const { owner } = this;
    const { table } = this.shared;
    switch (message.kind) {
      case Kind.Register: {
        checkMoniker(message.moniker);
        if (Buffer.byteLength(message.endpoint) > MAX_SOCKET_PATH_BYTES) {
          throw new RuntableError('BAD_ARGUMENT', `endpoint path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
        }
        if (message.methods.length > MAX_METHODS_PER_ENTRY) {
          throw new RuntableError('BAD_ARGUMENT', `an entry may list at most ${MAX_METHODS_PER_ENTRY} methods`);
        }
        checkMetadata(message.metadata);
        if (message.replace && message.queue) {
          throw new RuntableError(
            'BAD_ARGUMENT',
            'replace and queue exclude each other: take the moniker or wait for it',
          );
        }
        if (table.ownedBy(owner) >= MAX_MONIKERS_PER_OWNER) {
          throw new RuntableError('BAD_ARGUMENT', `one connection may hold at most ${MAX_MONIKERS_PER_OWNER} monikers`);
        }
        if (message.queue && table.queuedBy(owner) >= MAX_QUEUED_PER_OWNER) {
          throw new RuntableError(
            'BAD_ARGUMENT',
            `one connection may wait in line for at most ${MAX_QUEUED_PER_OWNER} monikers at once`,
          );
        }
        const entry = entryOf(message, this.connection.peerPid);
        const result = table.register(owner, entry, {
          replace: message.replace === true,
          queue: message.queue === true,
          hold: this.shared.restoring(),
        });
        if (result.queued !== undefined) {
          this.#queued.set(message.moniker, message.id);
          this.shared.log(`pid ${entry.pid} waits in line for ${message.moniker} (number ${result.queued})`);
          return DEFERRED;
        }
        if (result.replaced) {
          this.shared.sessions
            .get(result.replaced.owner)
            ?.connection.send({ kind: Kind.Lost, moniker: message.moniker });
        }
        return result.entry;
      }
      case Kind.Revoke: {
        checkMoniker(message.moniker);
        const { revoked, promoted, left } = table.revoke(owner, message.moniker);
        if (left) {
          this.shared.log(`pid ${left.entry.pid} left the line for ${message.moniker}`);
          const waiting = this.#queued.get(message.moniker);
          this.#queued.delete(message.moniker);
          if (waiting !== undefined) {
            this.connection.replyError(
              waiting,
              new RuntableError('ABORTED', `${message.moniker}: left the queue before becoming its owner`),
            );
          }
        }
        if (promoted) handOver([promoted], this.shared);
        return revoked !== undefined || left !== undefined;
      }
      case Kind.List: {
        checkPrefix(message.prefix);
        const [start, end] = table.range(message.prefix);
        if (message.parts !== true || end - start <= 2 * LIST_PART_ROWS) {
          return table.pack(message.prefix, this.connection);
        }
        this.#held = [];
        listInParts(table, this.connection, message.id, start, end, () => this.#release());
        return DEFERRED;
      }
      case Kind.ListNames:
        checkPrefix(message.prefix);
        return table.packNames(message.prefix);
      case Kind.Lookup:
        checkMoniker(message.moniker);
        return table.lookup(message.moniker) ?? null;
      case Kind.Touch:
        checkMoniker(message.moniker);
        if (message.metadata) checkMetadata(message.metadata);
        return table.touch(owner, message.moniker, new Date(), message.metadata);
      case Kind.Watch: {
        checkPrefix(message.prefix);
        if (this.#watches.size >= MAX_WATCHES_PER_CONNECTION) {
          throw new RuntableError(
            'BAD_ARGUMENT',
            `one connection may keep at most ${MAX_WATCHES_PER_CONNECTION} watches`,
          );
        }
        const watch = message.id;
        this.#watches.get(watch)?.();
        // The snapshot is taken and the watcher added in the same tick, so no event falls between.
        const snapshot = table.pack(message.prefix, this.connection);
        const stop = table.watch(message.prefix, (type, entry) => {
          this.connection.send({ kind: Kind.TableEvent, watch, type, entry });
          telling?.add(this.connection);
        });
        this.#watches.set(watch, stop);
        return snapshot;
      }
      case Kind.Unwatch: {
        const stop = this.#watches.get(message.watch);
        this.#watches.delete(message.watch);
        stop?.();
        return stop !== undefined;
      }
      case Kind.Status:
        return this.shared.status();
      case Kind.Activate: {
        checkMoniker(message.moniker);
        const held = table.lookup(message.moniker);
        if (held) return held;
        if (this.#activating >= MAX_ACTIVATIONS_PER_CONNECTION) {
          throw new RuntableError(
            'BAD_ARGUMENT',
            `one connection may wait for at most ${MAX_ACTIVATIONS_PER_CONNECTION} activations at once`,
          );
        }
        const { id } = message;
        this.#activating++;
        this.shared.activations
          .activate(message.moniker)
          .then(
            (entry) => {
              if (!this.connection.closed) this.connection.reply(id, entry);
            },
            (error: RuntableError) => {
              if (!this.connection.closed) this.connection.replyError(id, error);
            },
          )
          .finally(() => this.#activating--);
        return DEFERRED;
      }
      case Kind.Services:
        return this.shared.activations.services();
      default:
        throw new RuntableError('PROTOCOL', `the broker does not take messages of kind ${message.kind}`);
    }
  }
}
