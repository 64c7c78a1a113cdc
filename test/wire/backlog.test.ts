// The slow-reader limit of a Connection, against a peer that completes the handshake and then
// reads nothing: one large message may wait on its own, but a backlog past maxPendingBytes drops
// the peer, rejects what was in flight and reports it once.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { RuntableError } from 'runtable';
import { connectUnix } from '../../src/transport/unix.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Connection } from '../../src/wire/connection.ts';
import { DEFAULT_LIMITS } from '../../src/wire/limits.ts';
import { Kind, PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { cleanup, tempTableDir } from '../helpers.ts';

const MiB = 1024 * 1024;
let dir: string;
let server: net.Server | undefined;
const sockets = new Set<net.Socket>();

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  // A paused socket never sees its peer hang up, and server.close() waits for every one.
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await cleanup(dir);
});

/** Answers Hello with Welcome, then stops reading for good. */
async function deafPeer(): Promise<string> {
  const socketPath = path.join(dir, 'deaf.sock');
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('data', (chunk) => {
      assert.equal((decode(chunk.subarray(4)) as { kind: number }).kind, Kind.Hello);
      const welcome = encode({ kind: Kind.Welcome, version: PROTOCOL_VERSION, pid: 1 });
      const header = Buffer.alloc(4);
      header.writeUInt32BE(welcome.length);
      socket.write(Buffer.concat([header, welcome]));
      socket.pause();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  return socketPath;
}

async function open(reports: string[]): Promise<Connection> {
  const transport = await connectUnix(await deafPeer(), { maxFrameBytes: MiB, timeout: 5000 });
  return Connection.connect(transport, {
    goneCode: 'OBJECT_GONE',
    peerName: 'deaf peer',
    token: 'any: the deaf peer does not check it',
    timeout: 60_000,
    limits: { ...DEFAULT_LIMITS, maxPendingBytes: MiB },
    report: (line) => reports.push(line),
  });
}

test('one large message may wait on its own past maxPendingBytes; small ones beside it go too', async () => {
  const reports: string[] = [];
  const connection = await open(reports);
  const big = connection.request({ kind: Kind.Call, target: 1, method: 'upload', args: [Buffer.alloc(8 * MiB)] });
  const small = connection.request({ kind: Kind.Call, target: 1, method: 'ping', args: [] });
  assert.ok(connection.pendingBytes > 8 * MiB - 1, 'the large message is queued');
  assert.equal(connection.closed, false);
  assert.deepEqual(reports, []);
  connection.close();
  await assert.rejects(big, { code: 'OBJECT_GONE' });
  await assert.rejects(small, { code: 'OBJECT_GONE' });
});

test('a backlog past maxPendingBytes drops the peer, rejects what was in flight and reports it once', async () => {
  const reports: string[] = [];
  const connection = await open(reports);
  const inFlight = connection.request({ kind: Kind.Call, target: 1, method: 'wait', args: [] });
  const payload = 'p'.repeat(1024);
  for (let n = 0; n < 4096 && !connection.closed; n++) {
    connection.send({ kind: Kind.Event, target: 1, event: 'tick', args: [payload] });
    // Let the socket take what it will, as a real process between bursts does.
    if (n % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(connection.closed, true, 'dropped before 4 MiB were queued');
  assert.equal(reports.length, 1);
  assert.match(reports[0] ?? '', /deaf peer \(pid 1\) left \d+ bytes unread, over the limit of 1048576/);
  const error = await inFlight.then(
    () => assert.fail('the request in flight must reject'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RuntableError);
  assert.equal(error.code, 'OBJECT_GONE');
  assert.match(error.message, /maxPendingBytes/);
});
