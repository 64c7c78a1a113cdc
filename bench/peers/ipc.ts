// child_process IPC with serialization: 'advanced' (v8.serialize over a pipe): what a Node user
// gets for free between a parent and the child it spawned. Run as a process it is the peer.

import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer } from '../procs.ts';

interface Message {
  id: number;
  op: 'echo' | 'sink';
  body: Uint8Array;
}

interface Reply {
  id: number;
  body: Uint8Array | number;
}

function serve(): void {
  process.on('message', (message: Message) => {
    const body = message.op === 'echo' ? message.body : message.body.byteLength;
    process.send?.({ id: message.id, body } satisfies Reply);
  });
  console.log('ready');
}

export const ipc: Transport = {
  name: 'child_process ipc',
  async open() {
    const peer = await spawnPeer('ipc', [], { ipc: true, bundled: true });
    const pending = new Map<number, { resolve: (body: Reply['body']) => void; reject: (error: Error) => void }>();
    let nextId = 1;
    peer.child.on('message', (reply: Reply) => {
      const call = pending.get(reply.id);
      pending.delete(reply.id);
      call?.resolve(reply.body);
    });
    peer.child.on('exit', () => {
      for (const call of pending.values()) call.reject(new Error('ipc: the peer exited'));
    });
    const call = (op: Message['op'], body: Uint8Array) =>
      new Promise<Reply['body']>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        peer.child.send({ id, op, body } satisfies Message);
      });
    const client: Client = {
      pids: [peer.pid],
      echo: async (body) => (await call('echo', body)) as Uint8Array,
      sink: async (body) => (await call('sink', body)) as number,
      async close() {
        peer.stop();
      },
    };
    return client;
  },
};

if (isPeerMain(import.meta.url, 'ipc')) {
  exitWithParent();
  serve();
}
