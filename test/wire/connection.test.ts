// Connection against a hand-written peer on a real Unix socket: what it does with
// connection-level failures, unsendable requests, and messages pipelined behind the handshake.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { connect } from 'runtable';
import { unpackEntries } from '../../src/naming/entry-batch.ts';
import { connectUnix } from '../../src/transport/unix.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Connection } from '../../src/wire/connection.ts';
import { Kind, PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { cleanup, tempTableDir } from '../helpers.ts';
import { hello, RawPeer } from '../raw-peer.ts';

let dir: string;
let server: net.Server | undefined;

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await cleanup(dir);
});

function frame(message: unknown): Buffer {
  const payload = encode(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** A peer that answers Hello, then hands every later message to `onMessage`. */
async function fakePeer(onMessage: (message: Record<string, unknown>, socket: net.Socket) => void): Promise<string> {
  const socketPath = path.join(dir, 'fake.sock');
  server = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const message = decode(pending.subarray(4, 4 + pending.readUInt32BE(0))) as Record<string, unknown>;
        pending = pending.subarray(4 + pending.readUInt32BE(0));
        if (message.kind === Kind.Hello) socket.write(frame({ kind: Kind.Welcome, version: PROTOCOL_VERSION, pid: 1 }));
        else onMessage(message, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  return socketPath;
}

async function client(socketPath: string): Promise<Connection> {
  const transport = await connectUnix(socketPath, { maxFrameBytes: 1 << 20, timeout: 5000 });
  return Connection.connect(transport, { goneCode: 'OBJECT_GONE', peerName: 'fake', timeout: 5000, token: 'fake' });
}

test('a connection-level Failure from the peer does not poison later requests', async () => {
  const socketPath = await fakePeer((message, socket) => {
    socket.write(frame({ kind: Kind.Failure, id: 0, error: { code: 'PROTOCOL', message: 'grumble' } }));
    socket.write(frame({ kind: Kind.Reply, id: message.id, value: 'fine' }));
  });
  const connection = await client(socketPath);
  assert.equal(await connection.request({ kind: Kind.Status }), 'fine');
  assert.equal(await connection.request({ kind: Kind.Status }), 'fine');
  connection.close();
});

test('a peer that complains and hangs up gives its reason to the requests in flight', async () => {
  const socketPath = await fakePeer((_, socket) => {
    socket.end(frame({ kind: Kind.Failure, id: 0, error: { code: 'FRAME_TOO_LARGE', message: 'too big' } }));
  });
  const connection = await client(socketPath);
  await assert.rejects(connection.request({ kind: Kind.Status }), { code: 'FRAME_TOO_LARGE' });
});

test('a handshake refused by the peer rejects with the peer\'s reason, not a vague "connection closed"', async () => {
  // Regression: the close that follows a refused handshake used to win with TABLE_UNAVAILABLE.
  for (const [answer, code] of [
    [{ kind: Kind.Welcome, version: PROTOCOL_VERSION + 1, pid: 1 }, 'PROTOCOL'],
    [{ kind: Kind.Failure, id: 0, error: { code: 'ACCESS_DENIED', message: 'no token' } }, 'ACCESS_DENIED'],
  ] as const) {
    const socketPath = path.join(dir, `refusing-${code}.sock`);
    const refusing = net.createServer((socket) => {
      socket.once('data', () => socket.end(frame(answer)));
    });
    await new Promise<void>((resolve) => refusing.listen(socketPath, resolve));
    try {
      const transport = await connectUnix(socketPath, { maxFrameBytes: 1 << 20, timeout: 5000 });
      await assert.rejects(
        Connection.connect(transport, { goneCode: 'TABLE_UNAVAILABLE', peerName: 'fake', timeout: 5000, token: 'x' }),
        { code },
      );
    } finally {
      await new Promise((resolve) => refusing.close(resolve));
    }
  }
});

test('a request that cannot be encoded rejects with BAD_ARGUMENT and leaves nothing pending', async () => {
  const socketPath = await fakePeer((message, socket) => {
    socket.write(frame({ kind: Kind.Reply, id: message.id, value: 1 }));
  });
  const connection = await client(socketPath);
  const unsendable = { kind: Kind.Call, target: 1, method: 'm', args: [Symbol('no')] as unknown[] } as const;
  await assert.rejects(connection.request(unsendable), { code: 'BAD_ARGUMENT' });
  assert.equal(connection.inFlight, 0);
  assert.equal(await connection.request({ kind: Kind.Status }), 1);
  connection.close();
});

test('requests pipelined in the same write as Hello are answered', async () => {
  const table = await connect({ dir });
  const peer = await RawPeer.open(path.join(dir, 'broker.sock'));
  peer.writeRaw(
    Buffer.concat([
      frame(hello(path.join(dir, 'broker.sock'))),
      frame({ kind: Kind.Status, id: 7 }),
      frame({ kind: Kind.List, id: 8, prefix: '' }),
    ]),
  );
  assert.equal((await peer.next((m) => m.kind === Kind.Welcome)).version, PROTOCOL_VERSION);
  assert.equal(((await peer.answer(7)).value as { pid: number }).pid, (await table.status()).pid);
  assert.deepEqual(unpackEntries((await peer.answer(8)).value), []);
  peer.destroy();
  await table.close();
});
