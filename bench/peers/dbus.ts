// D-Bus through a private dbus-daemon, with dbus-next on both sides: the peer owns a well-known
// name and answers Echo(ay) -> ay with a low-level method handler (no introspection layer, the
// fastest way dbus-next offers). Every call crosses the daemon twice. Run as a process it is the
// peer: `dbus.ts <bus address> <well-known name>`.

import { Message, type MessageBus, NameFlag, sessionBus } from 'dbus-next';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer, startDbusDaemon } from '../procs.ts';

export const ECHO_NAME = 'org.runtable.bench.Echo';
const PATH = '/org/runtable/bench';
const IFACE = 'org.runtable.bench.Echo';

/** A connection to the bus at `address`, resolved once the daemon has given it a unique name. */
export function connectBus(address: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address, authMethods: ['EXTERNAL'] });
  return new Promise((resolve, reject) => {
    bus.once('connect', () => resolve(bus));
    bus.once('error', reject);
  });
}

/** The unique name the daemon gave this connection (dbus-next sets it; its types omit it). */
export function uniqueName(bus: MessageBus): string {
  return (bus as MessageBus & { name: string }).name;
}

/** Calls a method of the bus itself (org.freedesktop.DBus). */
export async function callBus(bus: MessageBus, member: string, signature = '', body: unknown[] = []) {
  const reply = await bus.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    }),
  );
  return reply?.body ?? [];
}

async function serve(address: string, name: string): Promise<void> {
  const bus = await connectBus(address);
  bus.addMethodHandler((message: Message) => {
    if (message.interface !== IFACE) return false;
    const [body] = message.body as [Buffer];
    if (message.member === 'Echo') bus.send(Message.newMethodReturn(message, 'ay', [body]));
    else if (message.member === 'Sink') bus.send(Message.newMethodReturn(message, 'u', [body.length]));
    else return false;
    return true;
  });
  await bus.requestName(name, NameFlag.DO_NOT_QUEUE);
  console.log(`ready ${uniqueName(bus)}`);
}

export const dbus: Transport = {
  name: 'dbus-next',
  noSink: 'dbus-next marshals ay byte by byte: 100 MB takes minutes',
  async open() {
    const daemon = await startDbusDaemon();
    try {
      const peer = await spawnPeer('dbus', [daemon.address, ECHO_NAME], { bundled: true });
      const bus = await connectBus(daemon.address);
      const client: Client = {
        pids: [peer.pid, daemon.pid],
        async echo(body) {
          const reply = await bus.call(
            new Message({
              destination: ECHO_NAME,
              path: PATH,
              interface: IFACE,
              member: 'Echo',
              signature: 'ay',
              body: [body],
            }),
          );
          return reply?.body[0] as Buffer;
        },
        async close() {
          bus.disconnect();
          peer.stop();
          daemon.stop();
        },
      };
      return client;
    } catch (error) {
      daemon.stop();
      throw error;
    }
  },
};

if (isPeerMain(import.meta.url, 'dbus')) {
  exitWithParent();
  await serve(process.argv[2] as string, process.argv[3] as string);
}
