// Bad input for rich calls, over raw sockets to a real owner (test/fixtures/rich.ts) and to a
// bare Connection: released or unknown references, event names that are not strings, absurd or
// negative stream credit, chunks out of order or never finished. Each gets a clear error for that
// call, stream or connection alone, and the connection goes on serving.
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { MAX_STREAM_CREDIT } from '../../src/calls/streams.ts';
import { MAX_FRAME_BYTES } from '../../src/transport/framing.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { listenUnix } from '../../src/transport/unix.ts';
import { ChunkAssembler } from '../../src/wire/chunk-assembler.ts';
import { CHUNK_BYTES } from '../../src/wire/chunks.ts';
import { encode, type ReferenceContext } from '../../src/wire/codec.ts';
import { Connection } from '../../src/wire/connection.ts';
import { DEFAULT_LIMITS } from '../../src/wire/limits.ts';
import { type Chunk, Kind, type Message } from '../../src/wire/protocol.ts';
import { tableToken } from '../../src/wire/token.ts';
import { cleanup, tempTableDir, waitFor } from '../helpers.ts';
import { type FailureMsg, type Msg, RawPeer } from '../raw-peer.ts';
import { endpointOf, type RichOwner, startRich } from './rich-service.ts';

/** What a reference in a received message becomes at the raw peer: its kind, id and methods. */
interface RawRef {
  refKind: number;
  refId: number;
  extra: unknown;
}

const refs: ReferenceContext = {
  exportReference() {
    throw new Error('the raw peer exports nothing');
  },
  importReference: (refKind, refId, extra): RawRef => ({ refKind, refId, extra }),
};

let dir: string;
let peers: RawPeer[] = [];

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  await cleanup(dir);
});

/** A rich owner and a raw, handshaken connection to its endpoint, with the object's id. */
async function rawOwner(moniker: string): Promise<{ owner: RichOwner; peer: RawPeer; target: number }> {
  const owner = await startRich(dir, moniker);
  const broker = await RawPeer.handshaken(path.join(dir, 'broker.sock'));
  peers.push(broker);
  const entry = (await broker.request({ kind: Kind.Lookup, id: 1, moniker })).value as { object: number } | null;
  assert.ok(entry, `${moniker} is registered`);
  const peer = await RawPeer.handshaken(endpointOf(dir, owner.pid), refs);
  peers.push(peer);
  return { owner, peer, target: entry.object };
}

function assertFailure(message: Msg | FailureMsg, id: number, code: string, pattern?: RegExp): void {
  const failure = message as unknown as FailureMsg;
  assert.equal(failure.kind, Kind.Failure, `expected a Failure, got ${JSON.stringify(message)}`);
  assert.equal(failure.id, id);
  assert.equal(failure.error.code, code, failure.error.message);
  if (pattern) assert.match(failure.error.message, pattern);
}

async function call(peer: RawPeer, id: number, target: number, method: string, ...args: unknown[]): Promise<Msg> {
  return peer.request({ kind: Kind.Call, id, target, method, args });
}

async function assertServes(peer: RawPeer, id: number, target: number): Promise<void> {
  const reply = await call(peer, id, target, 'add', id, 1);
  assert.deepEqual([reply.kind, reply.value], [Kind.Reply, id + 1], 'the connection still serves calls');
}

test('a one-way call that throws or names no method sends nothing back', async () => {
  const { owner, peer, target } = await rawOwner('Bad/oneway');
  peer.send({ kind: Kind.Call, id: 0, target, method: 'failOneway', args: ['raw-7'] });
  peer.send({ kind: Kind.Call, id: 0, target, method: 'noSuchMethod', args: [] });
  peer.send({ kind: Kind.Call, id: 0, target: 999, method: 'add', args: [] });
  // Answers come in order on one connection: anything for the one-way calls would come first.
  await assertServes(peer, 9, target);
  assert.deepEqual(peer.inbox, [], 'no reply or failure for one-way calls');
  await waitFor(() => owner.stderr().includes('raw-7'), 5_000, 'the warning on the owner stderr');
});

test('Invoke of a released or unknown reference is OBJECT_GONE; hidden methods NO_SUCH_METHOD', async () => {
  const { peer, target } = await rawOwner('Bad/refs');
  const reply = await call(peer, 1, target, 'counter');
  const counter = reply.value as RawRef;
  assert.equal(counter.refKind, 1, 'an object reference');
  assert.deepEqual(counter.extra, ['inc', 'measure', 'value'], 'only the exposed methods are announced');
  const invoke = (id: number, ref: number, method: string, ...args: unknown[]) =>
    peer.request({ kind: Kind.Invoke, id, ref, method, args });
  assert.equal((await invoke(2, counter.refId, 'inc')).value, 1);
  assert.equal((await invoke(3, counter.refId, 'inc', 2)).value, 3);
  assertFailure(await invoke(4, counter.refId, '_reset'), 4, 'NO_SUCH_METHOD');
  assertFailure(await invoke(5, counter.refId, ''), 5, 'NO_SUCH_METHOD');
  assertFailure(await invoke(6, 987_654, 'inc'), 6, 'OBJECT_GONE');
  peer.send({ kind: Kind.Release, ref: counter.refId, count: 1 });
  assertFailure(await invoke(7, counter.refId, 'inc'), 7, 'OBJECT_GONE');
  // A second release, or a Cancel for nothing, is ignored.
  peer.send({ kind: Kind.Release, ref: counter.refId, count: 1 });
  peer.send({ kind: Kind.Cancel, call: 12_345 });
  // A new counter gets a new id; the old one stays gone.
  const again = (await call(peer, 8, target, 'counter')).value as RawRef;
  assert.notEqual(again.refId, counter.refId);
  assert.equal((await invoke(9, again.refId, 'inc')).value, 1);
  assertFailure(await invoke(10, counter.refId, 'value'), 10, 'OBJECT_GONE');
  await assertServes(peer, 11, target);
});

test('Subscribe with an event name that is not a string is PROTOCOL; a good one still works', async () => {
  const { peer, target } = await rawOwner('Bad/subscribe');
  assertFailure(await peer.request({ kind: Kind.Subscribe, id: 1, target, event: 42 }), 1, 'PROTOCOL');
  assertFailure(await peer.request({ kind: Kind.Subscribe, id: 2, target, event: ['tick'] }), 2, 'PROTOCOL');
  assertFailure(await peer.request({ kind: Kind.Subscribe, id: 3, target, event: 'x'.repeat(300) }), 3, 'BAD_ARGUMENT');
  assertFailure(await peer.request({ kind: Kind.Subscribe, id: 4, target: 999, event: 'tick' }), 4, 'NOT_REGISTERED');
  assert.deepEqual((await call(peer, 5, target, 'emitTicks', 1)).value, [0], 'no subscription was made');
  const ok = await peer.request({ kind: Kind.Subscribe, id: 6, target, event: 'tick' });
  assert.deepEqual([ok.kind, ok.value], [Kind.Reply, true]);
  assert.deepEqual((await call(peer, 7, target, 'emitTicks', 2)).value, [1, 1]);
  const events = [await peer.next((m) => m.kind === Kind.Event), await peer.next((m) => m.kind === Kind.Event)];
  assert.deepEqual(
    events.map((e) => [e.target, e.event, e.args]),
    [
      [target, 'tick', [0]],
      [target, 'tick', [1]],
    ],
  );
  peer.send({ kind: Kind.Unsubscribe, target, event: 'tick' });
  assert.deepEqual((await call(peer, 8, target, 'emitTicks', 1)).value, [0]);
});

test('stream credit: negative is refused, absurd ends that stream with PROTOCOL, the connection goes on', async () => {
  const { peer, target } = await rawOwner('Bad/credit');
  const stream = (await call(peer, 1, target, 'numbers', 1_000_000_000, 'raw')).value as RawRef;
  assert.equal(stream.refKind, 2, 'a stream reference');
  const sid = stream.refId;
  const items: unknown[] = [];
  const take = async (count: number) => {
    while (items.length < count) {
      const message = await peer.next((m) => m.kind === Kind.StreamItems && m.stream === sid);
      items.push(...(message.values as unknown[]));
    }
    assert.equal(items.length, count, 'never more items than credit');
  };
  peer.send({ kind: Kind.StreamCredit, stream: sid, credit: 10 });
  await take(10);
  // Negative credit is not a message at all.
  peer.send({ kind: Kind.StreamCredit, stream: sid, credit: -5 });
  assertFailure(await peer.failure(0), 0, 'PROTOCOL', /credit/);
  // The stream is unharmed by it.
  peer.send({ kind: Kind.StreamCredit, stream: sid, credit: 5 });
  await take(15);
  assert.deepEqual(
    items,
    Array.from({ length: 15 }, (_, i) => i),
  );
  assert.equal((await call(peer, 2, target, 'finallyRan', 'raw')).value, false);
  // Absurd credit ends the stream with PROTOCOL, and the owner's iterator is stopped.
  peer.send({ kind: Kind.StreamCredit, stream: sid, credit: MAX_STREAM_CREDIT + 1 });
  const end = await peer.next((m) => m.kind === Kind.StreamEnd && m.stream === sid);
  assert.equal((end.error as { code: string } | undefined)?.code, 'PROTOCOL', JSON.stringify(end));
  let id = 10;
  await waitFor(async () => (await call(peer, ++id, target, 'finallyRan', 'raw')).value === true, 5_000, 'finally');
  // More credit for the ended stream is ignored; calls and new streams go on.
  peer.send({ kind: Kind.StreamCredit, stream: sid, credit: 5 });
  await assertServes(peer, 50, target);
  assert.equal(
    peer.inbox.filter((m) => m.kind === Kind.StreamItems && m.stream === sid).length,
    0,
    'nothing more on the ended stream',
  );
  const next = (await call(peer, 51, target, 'numbers', 3, 'raw2')).value as RawRef;
  peer.send({ kind: Kind.StreamCredit, stream: next.refId, credit: 10 });
  const last = await peer.next((m) => m.kind === Kind.StreamItems && m.stream === next.refId);
  assert.deepEqual(last.values, [0, 1, 2]);
  const done = await peer.next((m) => m.kind === Kind.StreamEnd && m.stream === next.refId);
  assert.equal(done.error, undefined);
});

/** `bytes` cut as a sender would, with `request` named on each chunk. */
function chunksOf(bytes: Uint8Array, transfer: number, request?: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    const chunk: Chunk = {
      kind: Kind.Chunk,
      transfer,
      offset,
      total: bytes.length,
      data: bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, bytes.length)),
    };
    if (request !== undefined) chunk.request = request;
    chunks.push(chunk);
  }
  return chunks;
}

test('chunks out of order fail that transfer with PROTOCOL; the connection still works', async () => {
  const { peer, target } = await rawOwner('Bad/chunks');
  const payload = Buffer.alloc(200_000, 3);
  const message = encode({ kind: Kind.Call, id: 70, target, method: 'size', args: [payload] });
  const chunks = chunksOf(message, 1, 70);
  assert.ok(chunks.length >= 4);
  peer.send(chunks[0]);
  peer.send(chunks[2]); // skips chunks[1]
  assertFailure(await peer.failure(70), 70, 'PROTOCOL', /out of order/);
  // The transfer was dropped: its next chunk belongs to nothing.
  peer.send(chunks[1]);
  assertFailure(await peer.failure(70), 70, 'PROTOCOL', /never began/);
  // A chunk that overruns its announced size.
  peer.send({ ...chunks[0], transfer: 2, total: 10 });
  assertFailure(await peer.failure(70), 70, 'PROTOCOL', /overruns/);
  await assertServes(peer, 71, target);
  // The same call, chunked properly, goes through on the same connection.
  const good = encode({ kind: Kind.Call, id: 72, target, method: 'size', args: [payload] });
  for (const chunk of chunksOf(good, 3, 72)) peer.send(chunk);
  const reply = await peer.answer(72);
  assert.deepEqual([reply.kind, reply.value], [Kind.Reply, payload.length]);
  assert.deepEqual(peer.inbox, []);
});

test('a transfer that never finishes is dropped and reported, and nothing of it stays buffered', async () => {
  // Over a real socket: a Connection with a short stall time reports the stall as Failure id 0.
  const received: Message[] = [];
  let accepted: Connection | undefined;
  const listener = await listenUnix(
    path.join(dir, 'stall.sock'),
    (transport: Transport) => {
      void Connection.accept(
        transport,
        {
          goneCode: 'OBJECT_GONE',
          peerName: 'raw peer',
          timeout: 5_000,
          token: tableToken(dir),
          limits: { ...DEFAULT_LIMITS, transferStallMs: 200 },
        },
        (connection) => {
          accepted = connection;
          return { onMessage: (message) => received.push(message), onClose: () => {} };
        },
      );
    },
    { maxFrameBytes: MAX_FRAME_BYTES },
  );
  try {
    const peer = await RawPeer.handshaken(path.join(dir, 'stall.sock'));
    peers.push(peer);
    const whole = encode({ kind: Kind.Subscribe, id: 5, target: 1, event: 'x'.repeat(200_000) });
    const chunks = chunksOf(whole, 7);
    peer.send(chunks[0]);
    const started = Date.now();
    assertFailure(await peer.failure(0), 0, 'PROTOCOL', /transfer 7 stalled/);
    assert.ok(Date.now() - started < 3_000);
    // Its remaining chunks belong to nothing now.
    peer.send(chunks[1]);
    assertFailure(await peer.failure(0), 0, 'PROTOCOL', /never began/);
    // A transfer that does finish, under the same number, is delivered whole, and no stall follows.
    for (const chunk of chunksOf(whole, 7)) peer.send(chunk);
    await waitFor(() => received.length === 1, 5_000, 'the whole message');
    assert.equal((received[0] as { event?: string }).event?.length, 200_000);
    assert.equal(accepted?.closed, false);
    assert.deepEqual(peer.inbox, []);
  } finally {
    accepted?.close();
    await listener.close();
  }

  // The assembler itself frees a stalled transfer's buffer.
  const stalled: number[] = [];
  const assembler = new ChunkAssembler(1 << 30, 100, (transfer) => stalled.push(transfer));
  const [first] = chunksOf(Buffer.alloc(300_000), 9);
  assert.equal(assembler.add(first as Chunk), undefined);
  assert.equal(assembler.bufferedBytes, 300_000);
  await waitFor(() => stalled.length === 1, 3_000, 'the stall');
  assert.deepEqual(stalled, [9]);
  assert.equal(assembler.bufferedBytes, 0);
});
