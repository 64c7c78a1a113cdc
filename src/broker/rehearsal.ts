// The broker's path for an owner that leaves (its connection closes, its entries are revoked,
// watchers are sent the events) runs once per death: in a fresh broker the first death would
// compile it on the spot. This plays it once at start, on connections in memory and a table of
// its own, so that the first owner to die is told of as fast as the next. It never touches the
// broker's table, its connections or its log.

import { MemoryTransport } from '../transport/memory.js';
import { decode, encode } from '../wire/codec.js';
import { Connection, HANDSHAKE_TIMEOUT_MS } from '../wire/connection.js';
import type { Limits } from '../wire/limits.js';
import { Kind, PROTOCOL_VERSION } from '../wire/protocol.js';
import { openSession, type Shared } from './session.js';
import { ObjectTable } from './table.js';

/** What the rehearsal needs of the broker: its token, limits and services, never its table. */
export interface RehearsalContext {
  token: string;
  limits: Limits;
  maxSendBytes: number;
  shared: Shared;
}

type Received = { kind?: unknown; type?: unknown; error?: { message?: unknown } };

/** Resolves at the first frame `transport` receives that `wanted` accepts; rejects at a Failure. */
function arrival(transport: MemoryTransport, wanted: (message: Received) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    transport.onFrame = (frame) => {
      const message = decode(frame) as Received;
      if (message.kind === Kind.Failure) reject(new Error(String(message.error?.message)));
      else if (wanted(message)) resolve();
    };
  });
}

/**
 * An owner registers, a watcher watches, the owner's connection closes and the watcher receives
 * its `revoked` event, all through the broker's own session code. Resolves when it has.
 */
export async function rehearseLeaving(context: RehearsalContext): Promise<void> {
  const shared: Shared = {
    ...context.shared,
    table: new ObjectTable(),
    sessions: new Map(),
    log: () => {},
    restoring: () => false,
  };
  const options = {
    goneCode: 'TABLE_UNAVAILABLE' as const,
    peerName: 'client',
    timeout: HANDSHAKE_TIMEOUT_MS,
    token: context.token,
    limits: context.limits,
    maxSendBytes: context.maxSendBytes,
    report: () => {},
  };
  const hello = encode({ kind: Kind.Hello, version: PROTOCOL_VERSION, pid: process.pid, token: context.token });
  let next = 1;
  const accept = (transport: MemoryTransport) =>
    Connection.accept(transport, options, (connection) => openSession(next++, connection, shared, () => {}));

  const [owner, ownerSide] = MemoryTransport.pair();
  const [watcher, watcherSide] = MemoryTransport.pair();
  const accepted = Promise.all([accept(ownerSide), accept(watcherSide)]);
  const answered = (message: Received) => message.kind === Kind.Reply;
  const ready = Promise.all([accepted, arrival(owner, answered), arrival(watcher, answered)]);
  owner.send(hello);
  watcher.send(hello);
  owner.send(
    encode({ kind: Kind.Register, id: 1, moniker: 'rehearsal', endpoint: '', object: 1, methods: [], metadata: {} }),
  );
  watcher.send(encode({ kind: Kind.Watch, id: 1, prefix: '' }));
  await ready;
  const told = arrival(watcher, (message) => message.kind === Kind.TableEvent && message.type === 'revoked');
  owner.close();
  await told;
  watcher.close();
}
