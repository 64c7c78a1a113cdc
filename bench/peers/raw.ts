// The floor: a plain Node Unix socket with length-prefixed frames, nothing else. Frame: u32 LE
// length of the rest, u32 LE call id, u8 op (0 echo, 1 sink), payload. Writes are corked per tick,
// the same batching runtable does, so the floor is a fair one. Run as a process it is the peer.

import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, spawnPeer } from '../procs.ts';

const HEADER = 9;
const ECHO = 0;
const SINK = 1;

type OnFrame = (id: number, op: number, body: Buffer) => void;

/** Reassembles frames from stream chunks; a frame that sits in one chunk is not copied. */
function frameReader(onFrame: OnFrame): (chunk: Buffer) => void {
  const chunks: Buffer[] = [];
  let length = 0;
  const take = (n: number): Buffer => {
    const first = chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) chunks.shift();
      else chunks[0] = first.subarray(n);
      length -= n;
      return first.subarray(0, n);
    }
    const whole = Buffer.concat(chunks, length);
    chunks.length = 0;
    if (whole.length > n) chunks.push(whole.subarray(n));
    length -= n;
    return whole.subarray(0, n);
  };
  return (chunk) => {
    chunks.push(chunk);
    length += chunk.length;
    while (length >= 4) {
      if ((chunks[0] as Buffer).length < 4) chunks.splice(0, chunks.length, Buffer.concat(chunks, length));
      const size = (chunks[0] as Buffer).readUInt32LE(0);
      if (length < 4 + size) return;
      const frame = take(4 + size);
      onFrame(frame.readUInt32LE(4), frame[8] as number, frame.subarray(HEADER));
    }
  };
}

/** Writes one frame; the socket is uncorked once per tick, so a burst goes out in one writev. */
function frameWriter(socket: net.Socket): (id: number, op: number, body: Uint8Array) => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return (id, op, body) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(HEADER - 4 + body.byteLength, 0);
    header.writeUInt32LE(id, 4);
    header[8] = op;
    socket.write(header);
    socket.write(body);
  };
}

function serve(socketPath: string): void {
  const server = net.createServer((socket) => {
    const send = frameWriter(socket);
    socket.on('error', () => {});
    socket.on(
      'data',
      frameReader((id, op, body) => {
        if (op === ECHO) send(id, ECHO, body);
        else {
          const count = Buffer.allocUnsafe(4);
          count.writeUInt32LE(body.length, 0);
          send(id, SINK, count);
        }
      }),
    );
  });
  server.listen(socketPath, () => console.log('ready'));
}

export const raw: Transport = {
  name: 'raw',
  async open(dir) {
    const socketPath = path.join(dir, 'raw.sock');
    const peer = await spawnPeer('raw', [socketPath]);
    const socket = net.createConnection({ path: socketPath });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const pending = new Map<number, { resolve: (body: Buffer) => void; reject: (error: Error) => void }>();
    let nextId = 1;
    socket.on(
      'data',
      frameReader((id, _op, body) => pending.get(id)?.resolve(body)),
    );
    socket.on('close', () => {
      for (const call of pending.values()) call.reject(new Error('raw: connection closed'));
    });
    const send = frameWriter(socket);
    const call = (op: number, body: Uint8Array) =>
      new Promise<Buffer>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, {
          resolve: (reply) => {
            pending.delete(id);
            resolve(reply);
          },
          reject,
        });
        send(id, op, body);
      });
    const client: Client = {
      pids: [peer.pid],
      echo: (body) => call(ECHO, body),
      sink: async (body) => (await call(SINK, body)).readUInt32LE(0),
      async close() {
        socket.destroy();
        peer.stop();
      },
    };
    return client;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  exitWithParent();
  serve(process.argv[2] as string);
}
