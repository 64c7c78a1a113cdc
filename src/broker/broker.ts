// The broker: a thin shell that accepts control connections and feeds their requests to the
// ObjectTable. It serves naming only; calls never pass through it. When a connection closes,
// every entry that connection owned leaves the table in the same tick, handed to the next owner
// in line if there is one.

import fs from 'node:fs';
import { RuntableError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import { brokerSocketPath, checkSocketPath } from '../transport/paths.js';
import type { Listener } from '../transport/transport.js';
import { listenUnix } from '../transport/unix.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../wire/chunks.js';
import { Connection, HANDSHAKE_TIMEOUT_MS } from '../wire/connection.js';
import { DEFAULT_LIMITS, type Limits } from '../wire/limits.js';
import { type BrokerStatus, PROTOCOL_VERSION } from '../wire/protocol.js';
import { tableToken } from '../wire/token.js';
import { Activations } from './activation.js';
import { exposedGc, IdleCollector } from './idle-gc.js';
import { rehearseLeaving, rehearseListing } from './rehearsal.js';
import { serviceDirs } from './service-files.js';
import { handOver, openSession, type Session, type Shared } from './session.js';
import { sweepDeadEndpoints } from './sweep.js';
import { ObjectTable, type OwnerId } from './table.js';

/** Requests to the broker are small; a larger one is a broken or hostile peer. */
export const MAX_CONTROL_MESSAGE_BYTES = 1024 * 1024;
/**
 * A broker that starts while owners' endpoints are alive replaces one that died: for this long,
 * queued claims wait in line even for a free moniker, so that its owner can register it again
 * first (as watchers wait RESUME_GRACE_MS for it).
 */
export const RESTORE_GRACE_MS = 3000;
/** A broker with no connections for this long exits. */
export const DEFAULT_IDLE_EXIT_MS = 30_000;
/**
 * When the broker rehearses an owner leaving and then a List (rehearsal.ts): after the client that
 * started it has been served, so that compiling those paths does not delay its first call.
 */
const REHEARSAL_DELAY_MS = 200;

export interface BrokerOptions {
  dir: string;
  /** Exit after this many ms with no connections; 0 never exits on its own. */
  idleMs?: number;
  /** Called when the broker stops on its own (idle). */
  onIdle?: () => void;
  log?: (line: string) => void;
  /** Unwritten bytes a peer (a watcher that stopped reading) may leave before it is dropped. */
  maxPendingBytes?: number;
  /** Where service files are read from; default from RUNTABLE_SERVICES or the XDG config directory. */
  serviceDirs?: readonly string[];
}

export interface Broker {
  readonly address: string;
  readonly table: ObjectTable;
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const log = options.log ?? (() => {});
  const idleMs = options.idleMs ?? DEFAULT_IDLE_EXIT_MS;
  // Control messages are small; what a watcher that stops reading may leave queued is the broker's option.
  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxMessageBytes: MAX_CONTROL_MESSAGE_BYTES,
    ...(options.maxPendingBytes === undefined ? {} : { maxPendingBytes: options.maxPendingBytes }),
  };
  const table = new ObjectTable();
  const connections = new Map<OwnerId, Connection>();
  const sessions = new Map<OwnerId, Session>();
  const startedAt = Date.now();
  /** Each control connection's id; the table calls it the owner of what that connection registers. */
  let nextConnection = 1;
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
    waiting: table.lines().map(([moniker, line]) => ({ moniker, pids: line.map((claim) => claim.entry.pid) })),
  });
  const activations = new Activations({
    dir: options.dir,
    table,
    log,
    serviceDirs: options.serviceDirs ?? serviceDirs(),
  });

  const idle = new IdleCollector(exposedGc());
  const shared: Shared = {
    table,
    sessions,
    status,
    log,
    dir: options.dir,
    restoring: () => restoreTimer !== undefined,
    activations,
    idle,
  };

  const address = brokerSocketPath(options.dir);
  checkSocketPath(address);
  const token = tableToken(options.dir);
  let listener: Listener;
  try {
    listener = await listenUnix(
      address,
      (transport) => {
        handshaking++;
        clearTimeout(idleTimer);
        idleTimer = undefined;
        Connection.accept(
          transport,
          {
            goneCode: 'TABLE_UNAVAILABLE',
            peerName: 'client',
            timeout: HANDSHAKE_TIMEOUT_MS,
            token,
            limits,
            // Replies may be large: a list of a whole table.
            maxSendBytes: DEFAULT_MAX_MESSAGE_BYTES,
            report: log,
          },
          (connection) => {
            handshaking--;
            const id = nextConnection++;
            connections.set(id, connection);
            return openSession(id, connection, shared, () => {
              connections.delete(id);
              armIdle();
            });
          },
        ).then(
          () => {},
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
  const rehearsalTimer = setTimeout(async () => {
    const context = { dir: options.dir, token, limits, maxSendBytes: DEFAULT_MAX_MESSAGE_BYTES, shared };
    let started = performance.now();
    await rehearseLeaving(context).then(
      () => log(`rehearsed an owner leaving in ${(performance.now() - started).toFixed(1)} ms`),
      (error: Error) => log(`rehearsal of an owner leaving failed: ${error.message}`),
    );
    started = performance.now();
    const cpu = process.cpuUsage();
    await rehearseListing().then(
      () => {
        const { user, system } = process.cpuUsage(cpu);
        log(
          `rehearsed a List in ${(performance.now() - started).toFixed(1)} ms (${((user + system) / 1000).toFixed(1)} ms of process CPU)`,
        );
      },
      (error: Error) => log(`rehearsal of a List failed: ${error.message}`),
    );
  }, REHEARSAL_DELAY_MS);
  rehearsalTimer.unref();

  return {
    address,
    table,
    async close() {
      clearTimeout(idleTimer);
      clearTimeout(rehearsalTimer);
      clearTimeout(restoreTimer);
      activations.close();
      idle.close();
      // A broker that stops is not its owners leaving: their entries go with it, and a watcher,
      // which carries on with the next broker, must not be told they were revoked (the owners
      // register again there). So no session is told of changes while the connections close.
      for (const session of sessions.values()) session.unwatch();
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
