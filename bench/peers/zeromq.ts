// zeromq 6: a DEALER client and a ROUTER peer over ipc://. Message: [call id, op, payload]; the
// router prepends the dealer's identity. zeromq allows one send in progress per socket, so the
// client queues its sends. Run as a process it is the peer.

import path from 'node:path';
import { Dealer, Router } from 'zeromq';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer } from '../procs.ts';

const ECHO = Buffer.from([0]);
const SINK = Buffer.from([1]);

async function serve(address: string): Promise<void> {
  const router = new Router();
  await router.bind(address);
  console.log('ready');
  for await (const [identity, id, op, body] of router) {
    if (!identity || !id || !op || !body) continue;
    if (op[0] === 0) await router.send([identity, id, body]);
    else {
      const count = Buffer.allocUnsafe(4);
      count.writeUInt32LE(body.length, 0);
      await router.send([identity, id, count]);
    }
  }
}

export const zeromq: Transport = {
  name: 'zeromq',
  async open(dir) {
    const address = `ipc://${path.join(dir, 'zmq.sock')}`;
    const peer = await spawnPeer('zeromq', [address], { bundled: true });
    const dealer = new Dealer();
    dealer.connect(address);
    const pending = new Map<number, (body: Buffer) => void>();
    let nextId = 1;
    void (async () => {
      for await (const [id, body] of dealer) {
        if (!id || !body) continue;
        const key = id.readUInt32LE(0);
        const resolve = pending.get(key);
        pending.delete(key);
        resolve?.(body);
      }
    })().catch(() => {});
    const queue: Buffer[][] = [];
    let sending = false;
    const pump = async () => {
      sending = true;
      try {
        for (let frames = queue.shift(); frames; frames = queue.shift()) await dealer.send(frames);
      } finally {
        sending = false;
      }
    };
    const call = (op: Buffer, body: Uint8Array) =>
      new Promise<Buffer>((resolve, reject) => {
        const id = Buffer.allocUnsafe(4);
        const key = nextId++;
        id.writeUInt32LE(key, 0);
        pending.set(key, resolve);
        queue.push([id, op, Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
        if (!sending) pump().catch(reject);
      });
    const client: Client = {
      pids: [peer.pid],
      echo: (body) => call(ECHO, body),
      sink: async (body) => (await call(SINK, body)).readUInt32LE(0),
      async close() {
        dealer.close();
        peer.stop();
      },
    };
    return client;
  },
};

if (isPeerMain(import.meta.url, 'zeromq')) {
  exitWithParent();
  await serve(process.argv[2] as string);
}
