// A broker from before ListNames (kind 22), for the tests of the fallback in Node
// (test/naming/list-names-fallback.test.ts) and in Python (clients/python/tests): a real broker
// behind a frame-level relay that refuses kind 22 exactly as an older broker's validation does
// (Failure PROTOCOL "malformed message: unknown kind 22") and passes everything else.
import fs from 'node:fs';
import net from 'node:net';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { brokerSocketPath } from '../../src/transport/paths.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { tokenPath } from '../../src/wire/token.ts';

function frame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/**
 * A broker that predates ListNames, in front of the real one (see the top of this file); with
 * `refuse` false, a plain relay that only counts the kinds it passes.
 */
export class OlderBroker {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #target: string;
  readonly #refuse: boolean;
  /** ListNames requests refused so far. */
  refused = 0;
  /** Called at each refusal, after `refused` is counted. */
  onRefused: (() => void) | undefined;
  /** The kind of every message the client sent, in order. */
  readonly kinds: number[] = [];

  private constructor(target: string, refuse: boolean) {
    this.#target = target;
    this.#refuse = refuse;
    this.#server = net.createServer((client) => this.#relay(client, this.#target));
  }

  static async listen(path: string, target: string, refuse = true): Promise<OlderBroker> {
    const older = new OlderBroker(target, refuse);
    await new Promise<void>((resolve, reject) => {
      older.#server.once('error', reject);
      older.#server.listen(path, resolve);
    });
    return older;
  }

  #relay(client: net.Socket, target: string): void {
    const upstream = net.createConnection({ path: target });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const length = pending.readUInt32BE(0);
        const body = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        const message = decode(body) as { kind: number; id?: unknown };
        this.kinds.push(message.kind);
        if (message.kind === Kind.ListNames && this.#refuse) {
          this.refused++;
          this.onRefused?.();
          const error = { code: 'PROTOCOL', message: 'malformed message: unknown kind 22' };
          client.write(frame(encode({ kind: Kind.Failure, id: message.id, error })));
        } else {
          upstream.write(frame(body));
        }
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A real broker on `brokerDir` and, on the socket of table directory `dir`, an older broker (or,
 * with `refuse` false, a plain relay) in front of it. The caller closes both.
 */
export async function startOlderBroker(
  brokerDir: string,
  dir: string,
  refuse: boolean,
): Promise<{ broker: Broker; relay: OlderBroker }> {
  const broker = await startBroker({ dir: brokerDir, idleMs: 0 });
  // The client reads the table's token from its own directory: the real broker's.
  fs.copyFileSync(tokenPath(brokerDir), tokenPath(dir));
  fs.chmodSync(tokenPath(dir), 0o600);
  const relay = await OlderBroker.listen(brokerSocketPath(dir), broker.address, refuse);
  return { broker, relay };
}
