// The broker's path for an owner that leaves (its connection closes, its entries are revoked,
// watchers are sent the events) runs once per death, and a List's (the batch written from the
// table's columns, the reply encoded) a few times in a broker's life: in a fresh broker the first
// would run them unoptimized, or compile them on the spot. This plays each at start, on Unix
// sockets of its own (the leaving: the socket's end of stream is part of the path) and a table of
// its own, so that the first owner to die is told of as fast as the next, and the first List is
// answered as fast as the next. It never touches the broker's table, its connections or its log.

import fs from 'node:fs';
import path from 'node:path';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import type { Transport } from '../transport/transport.js';
import { connectUnix, listenUnix } from '../transport/unix.js';
import { decode, encode, encodeReply } from '../wire/codec.js';
import { Connection, HANDSHAKE_TIMEOUT_MS } from '../wire/connection.js';
import type { Limits } from '../wire/limits.js';
import { Kind, PROTOCOL_VERSION } from '../wire/protocol.js';
import { IdleCollector } from './idle-gc.js';
import { rehearseInParts } from './list-parts.js';
import { openSession, type Shared } from './session.js';
import { ObjectTable } from './table.js';

/**
 * Entries of the List rehearsal's table, and Lists of them: enough for V8 to optimize the row loop
 * of `pack` and what it calls before the first real List (checked with --trace-opt).
 */
const LIST_REHEARSAL_ENTRIES = 500;
const LIST_REHEARSAL_LISTS = 20;
/** Rows per part of the rehearsal's Lists in parts: five parts of its table. */
const LIST_REHEARSAL_PART_ROWS = 100;
/** Owner endpoints among the List rehearsal's entries: a batch lists several. */
const LIST_REHEARSAL_OWNERS = 10;

/** What the rehearsal needs of the broker: its token, limits and services, never its table. */
export interface RehearsalContext {
  /** The table's directory (private to its user): where the rehearsal's socket lies meanwhile. */
  dir: string;
  token: string;
  limits: Limits;
  maxSendBytes: number;
  shared: Shared;
}

type Received = { kind?: unknown; type?: unknown; error?: { message?: unknown } };

/** Resolves at the first frame `transport` receives that `wanted` accepts; rejects at a Failure. */
function arrival(transport: Transport, wanted: (message: Received) => boolean): Promise<void> {
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
 * its `revoked` event, all through the broker's own session code and over Unix sockets, as a real
 * owner's would. Resolves when it has.
 */
export async function rehearseLeaving(context: RehearsalContext): Promise<void> {
  const { hello, accept } = rehearsalSessions(context, new ObjectTable());
  const address = path.join(context.dir, `rehearsal-${process.pid}.sock`);
  fs.rmSync(address, { force: true });
  const waiting: ((transport: Transport) => void)[] = [];
  const listener = await listenUnix(address, (transport) => waiting.shift()?.(transport), {
    maxFrameBytes: MAX_FRAME_BYTES,
    holdsProcess: false,
  });
  try {
    await leaveOnce(hello, accept, async () => {
      const accepted = new Promise<Transport>((resolve) => waiting.push(resolve));
      const near = await connectUnix(address, { maxFrameBytes: MAX_FRAME_BYTES, timeout: HANDSHAKE_TIMEOUT_MS });
      return [near, await accepted];
    });
  } finally {
    await listener.close();
    fs.rmSync(address, { force: true });
  }
}

/** One owner leaving, on pairs of transports from `pair` (the peer's end, the broker's). */
async function leaveOnce(
  hello: Uint8Array,
  accept: (transport: Transport) => Promise<unknown>,
  pair: () => Promise<[Transport, Transport]>,
): Promise<void> {
  const [owner, ownerSide] = await pair();
  const [watcher, watcherSide] = await pair();
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

/**
 * Lists a table of LIST_REHEARSAL_ENTRIES entries of its own LIST_REHEARSAL_LISTS times: each
 * batch packed and its reply encoded as the session does, and dropped. Not through connections
 * in memory (three times the CPU, for code that runs once per List); one List a turn of the event
 * loop, so that a real request waits for one at most. Resolves when the last is done.
 */
export async function rehearseListing(): Promise<void> {
  const table = new ObjectTable();
  const now = new Date();
  for (let i = 0; i < LIST_REHEARSAL_ENTRIES; i++) {
    const owner = i % LIST_REHEARSAL_OWNERS;
    // Owners that are no session's: the table is dropped with them at the end.
    table.register(-1 - owner, {
      moniker: `rehearsal/o${owner}/m${i}`,
      pid: process.pid,
      endpoint: `rehearsal-${owner}`,
      object: i + 1,
      methods: ['method'],
      metadata: {},
      registeredAt: now,
      changedAt: now,
    });
  }
  for (let id = 1; id <= LIST_REHEARSAL_LISTS; id++) {
    // Framed, as replies on Unix sockets are; the batch's rows leave the block as its own part.
    // Every other one in parts, as a large List asked `parts` goes (list-parts.ts).
    if (id % 2 === 0) rehearseInParts(table, 'rehearsal/', id, LIST_REHEARSAL_PART_ROWS);
    else encodeReply(id, table.pack('rehearsal/'), undefined, true);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A broker's session code over a table of the rehearsal's own: how its connections are accepted. */
function rehearsalSessions(context: RehearsalContext, table: ObjectTable) {
  const shared: Shared = {
    ...context.shared,
    table,
    sessions: new Map(),
    log: () => {},
    restoring: () => false,
    // The rehearsal's requests are not the broker's: they arm no collection.
    idle: new IdleCollector(undefined),
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
  const accept = (transport: Transport) =>
    Connection.accept(transport, options, (connection) => openSession(next++, connection, shared, () => {}));
  return { shared, hello, accept };
}
