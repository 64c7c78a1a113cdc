// The floor: the leanest honest Node RPC over a Unix socket. Frame: u32 LE length of the rest,
// u32 LE call id, u8 op (0 echo, 1 sink), payload. A promise per call, a FIFO of resolvers (the
// peer answers in order), one frame per call, frames batched into one write per tick on both
// sides. Run as a process it is the peer.

import net from 'node:net';
import path from 'node:path';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer } from '../procs.ts';

const HEADER = 9;
const ECHO = 0;
const SINK = 1;
/** Bodies up to this size are copied into their frame; larger ones go as a second part. */
const COPY_MAX = 16 * 1024;
/** A tick's frames up to this many bytes in all are joined into one write. */
const JOIN_MAX = 64 * 1024;

/** `frame` is the whole frame, header included; `body` a view of its payload. */
type OnFrame = (frame: Buffer, id: number, op: number) => void;

/** Splits a byte stream into frames; a frame inside one read is a view, never copied. */
function frameReader(onFrame: OnFrame): (chunk: Buffer) => void {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let need = 0;
  return (chunk) => {
    if (heldBytes) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes < 4 || heldBytes < need) return;
      chunk = Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
    }
    let at = 0;
    while (chunk.length - at >= 4) {
      const end = at + 4 + chunk.readUInt32LE(at);
      if (end > chunk.length) break;
      onFrame(chunk.subarray(at, end), chunk.readUInt32LE(at + 4), chunk[at + 8] as number);
      at = end;
    }
    if (at < chunk.length) {
      const rest = chunk.subarray(at);
      held.push(rest);
      heldBytes = rest.length;
      need = rest.length >= 4 ? 4 + rest.readUInt32LE(0) : 4;
    }
  };
}

/** Queues whole frames; once per tick they leave as one write (joined) or one corked burst. */
function frameWriter(socket: net.Socket): (frame: Uint8Array) => void {
  let queued: Uint8Array[] = [];
  let queuedBytes = 0;
  const flush = () => {
    const frames = queued;
    queued = [];
    if (frames.length === 1) socket.write(frames[0] as Uint8Array);
    else if (queuedBytes <= JOIN_MAX) socket.write(Buffer.concat(frames, queuedBytes));
    else {
      socket.cork();
      for (const frame of frames) socket.write(frame);
      socket.uncork();
    }
    queuedBytes = 0;
  };
  return (frame) => {
    if (queued.length === 0) process.nextTick(flush);
    queued.push(frame);
    queuedBytes += frame.byteLength;
  };
}

function head(size: number, id: number, op: number, bodyBytes: number): Buffer {
  const frame = Buffer.allocUnsafe(size);
  frame.writeUInt32LE(HEADER - 4 + bodyBytes, 0);
  frame.writeUInt32LE(id, 4);
  frame[8] = op;
  return frame;
}

function serve(socketPath: string): void {
  const server = net.createServer((socket) => {
    const send = frameWriter(socket);
    socket.on('error', () => {});
    socket.on(
      'data',
      frameReader((frame, id, op) => {
        // An echo's reply is its request, header and all: the same length, id and op.
        if (op === ECHO) send(frame);
        else {
          const reply = head(HEADER + 4, id, SINK, 4);
          reply.writeUInt32LE(frame.length - HEADER, HEADER);
          send(reply);
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
    const peer = await spawnPeer('raw', [socketPath], { bundled: true });
    const socket = net.createConnection({ path: socketPath });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    // The calls in flight, oldest first: the peer answers in order, so a reply is the head's.
    let ids: number[] = [];
    let resolvers: ((body: Buffer) => void)[] = [];
    let rejecters: ((error: Error) => void)[] = [];
    let first = 0;
    let nextId = 1;
    let failure: Error | undefined;
    const fail = (error: Error) => {
      failure ??= error;
      for (let i = first; i < rejecters.length; i++) (rejecters[i] as (error: Error) => void)(error);
      ids = [];
      resolvers = [];
      rejecters = [];
      first = 0;
    };
    socket.on(
      'data',
      frameReader((frame, id) => {
        if (first === ids.length || ids[first] !== id) {
          socket.destroy();
          fail(new Error(`raw: a reply to call ${id}, which is not the oldest in flight`));
          return;
        }
        const resolve = resolvers[first] as (body: Buffer) => void;
        first++;
        if (first === ids.length) ids.length = resolvers.length = rejecters.length = first = 0;
        else if (first >= 4096) {
          ids.splice(0, first);
          resolvers.splice(0, first);
          rejecters.splice(0, first);
          first = 0;
        }
        resolve(frame.subarray(HEADER));
      }),
    );
    socket.on('close', () => fail(new Error('raw: connection closed')));
    const send = frameWriter(socket);
    const call = (op: number, body: Uint8Array) =>
      new Promise<Buffer>((resolve, reject) => {
        if (failure) return reject(failure);
        const id = nextId++;
        ids.push(id);
        resolvers.push(resolve);
        rejecters.push(reject);
        if (body.byteLength <= COPY_MAX) {
          const frame = head(HEADER + body.byteLength, id, op, body.byteLength);
          frame.set(body, HEADER);
          send(frame);
        } else {
          send(head(HEADER, id, op, body.byteLength));
          send(body);
        }
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

if (isPeerMain(import.meta.url, 'raw')) {
  exitWithParent();
  serve(process.argv[2] as string);
}
