// The broker: a thin shell that accepts control connections and feeds their requests to the
// ObjectTable. It serves naming only; calls never pass through it. When a connection closes,
// every entry that connection owned leaves the table in the same tick, handed to the next owner
// in line if there is one.

import fs from 'node:fs';
import path from 'node:path';
import { RuntableError } from '../errors.js';
import { brokerSocketPath, checkSocketPath, MAX_SOCKET_PATH_BYTES } from '../transport/paths.js';
import type { Listener } from '../transport/transport.js';
import { listenUnix } from '../transport/unix.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../wire/chunks.js';
import { encode } from '../wire/codec.js';
import { Connection, HANDSHAKE_TIMEOUT_MS } from '../wire/connection.js';
import { MAX_FRAME_BYTES } from '../wire/framing.js';
import { type BrokerStatus, Kind, type Message, PROTOCOL_VERSION, type WireEntry } from '../wire/protocol.js';
import { isAlive } from './liveness.js';
import { checkMoniker, checkPrefix } from './moniker.js';
import { type Claim, ObjectTable, type OwnerId } from './object-table.js';

/** Requests to the broker are small; a larger one is a broken or hostile peer. */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024;
/** Encoded size of one entry's metadata. */
export const MAX_METADATA_BYTES = 16 * 1024;
/** Methods one entry may list. */
export const MAX_METHODS_PER_ENTRY = 1024;
/** Monikers one control connection may hold. */
export const MAX_MONIKERS_PER_OWNER = 100_000;
/** Monikers one control connection may wait in line for at once (`queue`). */
export const MAX_QUEUED_PER_OWNER = 1024;
/** Watches one control connection may keep open. */
export const MAX_WATCHES_PER_CONNECTION = 1024;
/**
 * A broker that starts while owners' endpoints are alive replaces one that died: for this long,
 * queued claims wait in line even for a free moniker, so that its owner can register it again
 * first (as watchers wait RESUME_GRACE_MS for it).
 */
export const RESTORE_GRACE_MS = 3000;
/** After an owner's connection closes, when to look whether its process is gone. */
const SWEEP_DELAYS_MS = [10, 50, 200, 1000, 5000];
/** A broker with no connections for this long exits. */
export const DEFAULT_IDLE_EXIT_MS = 30_000;

export interface BrokerOptions {
  dir: string;
  /** Exit after this many ms with no connections; 0 never exits on its own. */
  idleMs?: number;
  /** Called when the broker stops on its own (idle). */
  onIdle?: () => void;
  log?: (line: string) => void;
}

export interface Broker {
  readonly address: string;
  readonly table: ObjectTable;
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const log = options.log ?? (() => {});
  const idleMs = options.idleMs ?? DEFAULT_IDLE_EXIT_MS;
  const table = new ObjectTable();
  const connections = new Map<OwnerId, Connection>();
  const sessions = new Map<OwnerId, Session>();
  const startedAt = Date.now();
  let nextOwner = 1;
  let idleTimer: NodeJS.Timeout | undefined;
  let restoreTimer: NodeJS.Timeout | undefined;
  /** Connections still in their handshake count as activity too. */
  let handshaking = 0;

  const armIdle = () => {
    if (idleMs <= 0 || connections.size > 0 || handshaking > 0 || idleTimer) return;
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (connections.size > 0 || handshaking > 0) return;
      log(`idle for ${idleMs} ms with no connections; exiting`);
      options.onIdle?.();
    }, idleMs);
  };

  const status = (): BrokerStatus => ({
    pid: process.pid,
    uptime: Date.now() - startedAt,
    entries: table.size,
    connections: connections.size,
    dir: options.dir,
    version: PROTOCOL_VERSION,
  });

  const shared: Shared = {
    table,
    sessions,
    status,
    log,
    dir: options.dir,
    restoring: () => restoreTimer !== undefined,
  };

  const address = brokerSocketPath(options.dir);
  checkSocketPath(address);
  let listener: Listener;
  try {
    listener = await listenUnix(
      address,
      (transport) => {
        handshaking++;
        clearTimeout(idleTimer);
        idleTimer = undefined;
        Connection.accept(transport, {
          goneCode: 'TABLE_UNAVAILABLE',
          peerName: 'client',
          timeout: HANDSHAKE_TIMEOUT_MS,
          maxMessageBytes: MAX_CONTROL_MESSAGE_BYTES,
          // Replies may be large: a list of a whole table.
          maxSendBytes: DEFAULT_MAX_MESSAGE_BYTES,
        }).then(
          (connection) => {
            handshaking--;
            const owner = nextOwner++;
            connections.set(owner, connection);
            const session = new Session(owner, connection, shared);
            sessions.set(owner, session);
            connection.onMessage = (message) => session.handle(message);
            connection.onClose = () => {
              sessions.delete(owner);
              session.end();
              connections.delete(owner);
              armIdle();
            };
          },
          (error: Error) => {
            handshaking--;
            log(`handshake failed: ${error.message}`);
            armIdle();
          },
        );
      },
      { maxFrameBytes: MAX_FRAME_BYTES },
    );
  } catch (error) {
    throw new RuntableError('TABLE_UNAVAILABLE', `broker cannot listen on ${address}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Remember which file is ours: on exit we remove the socket only if nobody replaced it since.
  const ino = fs.statSync(address).ino;
  const liveEndpoints = sweepDeadEndpoints(options.dir);
  log(`broker ${process.pid} listening on ${address} (idle exit ${idleMs} ms)`);
  if (liveEndpoints > 0) {
    log(
      `${liveEndpoints} owner endpoints are alive: queued claims wait ${RESTORE_GRACE_MS} ms for owners to come back`,
    );
    restoreTimer = setTimeout(() => {
      restoreTimer = undefined;
      handOver(table.handOverFree(), shared);
    }, RESTORE_GRACE_MS);
    restoreTimer.unref();
  }
  armIdle();

  return {
    address,
    table,
    async close() {
      clearTimeout(idleTimer);
      clearTimeout(restoreTimer);
      for (const connection of connections.values()) connection.close();
      await listener.close();
      try {
        if (fs.statSync(address).ino === ino) fs.unlinkSync(address);
      } catch {
        // Already gone.
      }
    },
  };
}

function checkMetadata(metadata: Record<string, unknown>): void {
  const bytes = encode(metadata).length;
  if (bytes > MAX_METADATA_BYTES) {
    throw new RuntableError(
      'BAD_ARGUMENT',
      `metadata is ${bytes} bytes encoded; the limit is ${MAX_METADATA_BYTES}. Keep large data behind a method`,
    );
  }
}

/** Removes endpoint sockets of owners that died while no broker ran; returns how many are alive. */
function sweepDeadEndpoints(dir: string): number {
  let alive = 0;
  for (const name of fs.readdirSync(dir)) {
    const pid = /^o(\d+)-\d+\.sock$/.exec(name)?.[1];
    if (!pid) continue;
    if (isAlive(Number(pid))) alive++;
    else fs.rmSync(path.join(dir, name), { force: true });
  }
  return alive;
}

/**
 * A dead owner's endpoint socket file would linger in the table directory: remove it. Its
 * connection closes while the process is still exiting, so look again a few times.
 */
function sweepEndpoints(dir: string, pid: number, revoked: WireEntry[], attempt = 0): void {
  if (isAlive(pid)) {
    if (attempt < SWEEP_DELAYS_MS.length) {
      setTimeout(() => sweepEndpoints(dir, pid, revoked, attempt + 1), SWEEP_DELAYS_MS[attempt]).unref();
    }
    return;
  }
  for (const endpoint of new Set(revoked.map((entry) => entry.endpoint))) {
    if (path.dirname(endpoint) !== dir || !path.basename(endpoint).startsWith(`o${pid}-`)) continue;
    fs.rmSync(endpoint, { force: true });
  }
}

/** What every session shares: the table, the other sessions, and the broker's own state. */
interface Shared {
  table: ObjectTable;
  sessions: Map<OwnerId, Session>;
  status: () => BrokerStatus;
  log: (line: string) => void;
  dir: string;
  /** True while a restarted broker gives owners time to register their monikers again. */
  restoring: () => boolean;
}

/** Answers the queued Registers of claims that just became owners, whichever session they are. */
function handOver(promoted: Claim[], shared: Shared): void {
  for (const claim of promoted) {
    shared.log(`${claim.entry.moniker} handed over to pid ${claim.entry.pid}`);
    shared.sessions.get(claim.owner)?.promoted(claim.entry);
  }
}

/** #answer's value for a request answered later: a queued Register. */
const DEFERRED = Symbol('deferred');

/** One control connection: its watches, its claims waiting in line, and the requests it may make. */
class Session {
  readonly #watches = new Map<number, () => void>();
  /** Moniker to the id of the queued Register waiting for it, answered on promotion. */
  readonly #queued = new Map<string, number>();

  constructor(
    readonly owner: OwnerId,
    readonly connection: Connection,
    readonly shared: Shared,
  ) {}

  handle(message: Message): void {
    if (!('id' in message)) {
      this.connection.replyError(
        0,
        new RuntableError('PROTOCOL', `the broker does not take messages of kind ${message.kind}`),
      );
      return;
    }
    try {
      const value = this.#answer(message);
      if (value !== DEFERRED) this.connection.reply(message.id, value);
    } catch (error) {
      if (!(error instanceof RuntableError)) throw error;
      this.connection.replyError(message.id, error);
    }
  }

  end(): void {
    for (const stop of this.#watches.values()) stop();
    this.#watches.clear();
    this.#queued.clear();
    const { revoked, promoted, left } = this.shared.table.revokeOwner(this.owner);
    handOver(promoted, this.shared);
    if (revoked.length === 0 && left.length === 0) return;
    this.shared.log(
      `pid ${this.connection.peerPid} left; revoked ${revoked.length} entries, left ${left.length} lines`,
    );
    if (revoked.length > 0) sweepEndpoints(this.shared.dir, this.connection.peerPid, revoked);
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
        const now = new Date();
        const entry: WireEntry = {
          moniker: message.moniker,
          pid: this.connection.peerPid,
          endpoint: message.endpoint,
          object: message.object,
          methods: message.methods,
          metadata: message.metadata,
          registeredAt: message.registeredAt ?? now,
          changedAt: message.changedAt ?? now,
        };
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
      case Kind.List:
        checkPrefix(message.prefix);
        return table.list(message.prefix);
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
        const snapshot = table.list(message.prefix);
        const stop = table.watch(message.prefix, (type, entry) =>
          this.connection.send({ kind: Kind.TableEvent, watch, type, entry }),
        );
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
      default:
        throw new RuntableError('PROTOCOL', `the broker does not take messages of kind ${message.kind}`);
    }
  }
}
