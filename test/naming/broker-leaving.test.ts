// When an owner's connection ends, the broker's session writes its watchers' events before the
// rest of the close (broker/session.ts, leave): over real Unix sockets, a watcher's event is with
// the operating system by the time the broker's own clean-up runs. And the rehearsal of an owner
// leaving (broker/rehearsal.ts) plays it on a Unix socket of its own, which it removes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { Activations } from '../../src/broker/activation.ts';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { IdleCollector } from '../../src/broker/idle-gc.ts';
import { openSession, type Shared } from '../../src/broker/session.ts';
import { ObjectTable } from '../../src/broker/table.ts';
import { MAX_FRAME_BYTES } from '../../src/transport/framing.ts';
import type { Listener, Transport } from '../../src/transport/transport.ts';
import { connectUnix, listenUnix } from '../../src/transport/unix.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Connection, HANDSHAKE_TIMEOUT_MS } from '../../src/wire/connection.ts';
import { Kind, PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { cleanup, tempTableDir, waitFor } from '../helpers.ts';

const TOKEN = 'a token of this test';

let dir: string;
let listener: Listener | undefined;
let activations: Activations | undefined;
let broker: Broker | undefined;

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  activations?.close();
  activations = undefined;
  await listener?.close();
  listener = undefined;
  await broker?.close();
  broker = undefined;
  await cleanup(dir);
});

type Received = { kind?: unknown; type?: unknown; entry?: { moniker?: unknown } };

/** The messages a client transport receives, decoded, in order. */
function received(transport: Transport): Received[] {
  const messages: Received[] = [];
  transport.onFrame = (frame) => messages.push(decode(frame) as Received);
  return messages;
}

test("an owner's end: its watcher's revoked event is written before the broker's clean-up runs", async () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const table = new ObjectTable();
  activations = new Activations({ dir, table, log, serviceDirs: [] });
  const shared: Shared = {
    table,
    sessions: new Map(),
    status: () => {
      throw new Error('no status in this test');
    },
    log,
    dir,
    restoring: () => false,
    activations,
    idle: new IdleCollector(undefined),
  };
  const address = path.join(dir, 'broker.sock');
  const accepted: Transport[] = [];
  listener = await listenUnix(address, (transport) => accepted.push(transport), { maxFrameBytes: MAX_FRAME_BYTES });
  const dial = async () => {
    const client = await connectUnix(address, { maxFrameBytes: MAX_FRAME_BYTES, timeout: HANDSHAKE_TIMEOUT_MS });
    await waitFor(() => accepted.length > 0, 5000, 'the accepted side');
    return [client, accepted.shift() as Transport] as const;
  };
  const [owner, ownerSide] = await dial();
  const [watcher, watcherSide] = await dial();
  // What the broker's side of the watcher still held unwritten when the owner's clean-up ran.
  let unwrittenAtCleanUp: number | undefined;
  const options = { goneCode: 'TABLE_UNAVAILABLE' as const, peerName: 'client', timeout: 5000, token: TOKEN };
  const accepting = Promise.all([
    Connection.accept(ownerSide, options, (connection) =>
      openSession(1, connection, shared, () => {
        unwrittenAtCleanUp = watcherSide.pendingBytes;
      }),
    ),
    Connection.accept(watcherSide, options, (connection) => openSession(2, connection, shared, () => {})),
  ]);
  const ownerGot = received(owner);
  const watcherGot = received(watcher);
  const hello = encode({ kind: Kind.Hello, version: PROTOCOL_VERSION, pid: process.pid, token: TOKEN });
  owner.send(hello);
  watcher.send(hello);
  owner.send(
    encode({ kind: Kind.Register, id: 1, moniker: 'leaving/one', endpoint: '', object: 1, methods: [], metadata: {} }),
  );
  watcher.send(encode({ kind: Kind.Watch, id: 1, prefix: 'leaving/' }));
  await accepting;
  const replied = (messages: Received[]) => messages.some((message) => message.kind === Kind.Reply);
  await waitFor(() => replied(ownerGot) && replied(watcherGot), 5000, 'the Register and Watch replies');
  assert.equal(table.size, 1);

  owner.close();
  await waitFor(() => unwrittenAtCleanUp !== undefined, 5000, "the owner's clean-up");
  assert.equal(unwrittenAtCleanUp, 0, "the watcher's event was handed to the socket before the clean-up");
  await waitFor(
    () => watcherGot.some((message) => message.kind === Kind.TableEvent && message.type === 'revoked'),
    5000,
    'the revoked event',
  );
  const event = watcherGot.find((message) => message.kind === Kind.TableEvent && message.type === 'revoked');
  assert.equal(event?.entry?.moniker, 'leaving/one');
  assert.equal(table.size, 0);
  await waitFor(() => lines.some((line) => /^pid \d+ left; revoked 1 entries/.test(line)), 5000, 'the log line');
  watcher.close();
});

test('the rehearsal of an owner leaving runs on a Unix socket in the table directory, then removes it', async () => {
  const seen = new Set<string>();
  const watching = fs.watch(dir, (_, name) => {
    if (name) seen.add(name.toString());
  });
  try {
    const lines: string[] = [];
    broker = await startBroker({ dir, idleMs: 0, log: (line) => lines.push(line) });
    await waitFor(() => lines.some((line) => line.startsWith('rehearsed an owner leaving')), 10_000, 'the rehearsal');
    assert.ok(seen.has(`rehearsal-${process.pid}.sock`), `the rehearsal's socket appeared (seen: ${[...seen]})`);
    assert.ok(!fs.existsSync(path.join(dir, `rehearsal-${process.pid}.sock`)), "the rehearsal's socket is gone");
    assert.equal(broker.table.size, 0);
  } finally {
    watching.close();
  }
});
