// The Unix transport hands a tick's frames to the socket as soon as EARLY_WRITE_FRAMES are
// queued, so that with many calls in flight the peer starts on the first while this side works
// on the rest; the frames after them still leave at the end of the tick, all in order.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { FRAME_HEADER_BYTES, FrameReader } from '../../src/transport/framing.ts';
import { connectUnix, EARLY_WRITE_FRAMES } from '../../src/transport/unix.ts';
import { cleanup, tempTableDir, waitFor } from '../helpers.ts';

let dir: string;
let server: net.Server | undefined;
const sockets = new Set<net.Socket>();

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await cleanup(dir);
});

/** A peer that records every frame it reads. */
async function recorder(frames: Buffer[]): Promise<string> {
  const socketPath = path.join(dir, 'rec.sock');
  server = net.createServer((socket) => {
    sockets.add(socket);
    const reader = new FrameReader(1024);
    socket.on('data', (chunk) => reader.push(chunk, (frame) => frames.push(Buffer.from(frame))));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  return socketPath;
}

const frame = (i: number) => Buffer.from(`frame ${String(i).padStart(4, '0')}`);

test('the first EARLY_WRITE_FRAMES frames of a tick go to the socket at once, the rest at its end, in order', async () => {
  const received: Buffer[] = [];
  const transport = await connectUnix(await recorder(received), { maxFrameBytes: 1024, timeout: 5000 });
  const each = FRAME_HEADER_BYTES + frame(0).length;
  for (let i = 0; i < EARLY_WRITE_FRAMES - 1; i++) transport.send(frame(i));
  assert.equal(transport.pendingBytes, (EARLY_WRITE_FRAMES - 1) * each, 'below the count, frames wait for the tick');
  transport.send(frame(EARLY_WRITE_FRAMES - 1));
  // Handed to a fresh socket with room for them: nothing is left queued in the transport.
  assert.equal(transport.pendingBytes, 0, 'at the count, the queued frames were written');
  for (let i = EARLY_WRITE_FRAMES; i < EARLY_WRITE_FRAMES + 4; i++) transport.send(frame(i));
  assert.equal(transport.pendingBytes, 4 * each, 'the frames after them wait for the end of the tick');
  const total = EARLY_WRITE_FRAMES + 4;
  await waitFor(() => received.length === total, 5000, 'every frame at the peer');
  assert.deepEqual(
    received.map((b) => b.toString()),
    Array.from({ length: total }, (_, i) => frame(i).toString()),
  );
  transport.close();
});
