// listNames against a broker from before ListNames (kind 22): such a broker refuses an unknown
// kind with Failure PROTOCOL "malformed message: unknown kind 22", and the client then lists the
// entries and gives their monikers. The older broker is a real broker behind a frame-level relay
// that refuses kind 22 exactly as an older broker's validation does, and passes everything else.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, beforeEach, test } from 'node:test';
import { connect } from 'runtable';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { brokerSocketPath } from '../../src/transport/paths.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { tokenPath } from '../../src/wire/token.ts';
import { cleanup, tempTableDir } from '../helpers.ts';

let brokerDir: string;
let dir: string;
let broker: Broker | undefined;
let relay: OlderBroker | undefined;

beforeEach(() => {
  brokerDir = tempTableDir();
  dir = tempTableDir();
});

afterEach(async () => {
  await relay?.close();
  relay = undefined;
  await broker?.close();
  broker = undefined;
  await cleanup(brokerDir);
  await cleanup(dir);
});

function frame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/**
 * A broker that predates ListNames, in front of the real one (see the top of this file); with
 * `refuse` false, a plain relay that only counts the kinds it passes.
 */
class OlderBroker {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #target: string;
  readonly #refuse: boolean;
  /** ListNames requests refused so far. */
  refused = 0;
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

async function startRelay(refuse: boolean): Promise<OlderBroker> {
  broker = await startBroker({ dir: brokerDir, idleMs: 0 });
  // The client reads the table's token from its own directory: the real broker's.
  fs.copyFileSync(tokenPath(brokerDir), tokenPath(dir));
  fs.chmodSync(tokenPath(dir), 0o600);
  relay = await OlderBroker.listen(brokerSocketPath(dir), broker.address, refuse);
  return relay;
}

test('against a broker that refuses ListNames, listNames gives the monikers of list, in its order', async () => {
  const relay = await startRelay(true);

  const table = await connect({ dir, autoStart: false });
  try {
    assert.deepEqual(await table.listNames(''), [], 'an empty table');
    assert.equal(relay.refused, 1, 'asked once, refused');
    for (const moniker of ['Old/b', 'Old/a', 'Old/é', 'Old/ab', 'Other/x']) await table.register(moniker, { f() {} });
    assert.deepEqual(await table.listNames('Old/'), ['Old/a', 'Old/ab', 'Old/b', 'Old/é']);
    assert.deepEqual(await table.listNames('Old/a'), ['Old/a', 'Old/ab']);
    assert.deepEqual(
      await table.listNames(''),
      (await table.list('')).map((entry) => entry.moniker),
    );
    assert.equal(relay.refused, 1, 'not asked again of the same broker');
    assert.equal(
      relay.kinds.filter((kind) => kind === Kind.List).length,
      5,
      'each of four listNames a List, and the list',
    );
    await assert.rejects(table.listNames('bad\u0001'), { code: 'BAD_MONIKER' });
  } finally {
    await table.close();
  }
});

test('a broker that knows ListNames answers it, and no List is sent', async () => {
  const relay = await startRelay(false);
  const table = await connect({ dir, autoStart: false });
  try {
    await table.register('New/a', { f() {} });
    assert.deepEqual(await table.listNames('New/'), ['New/a']);
    assert.deepEqual(await table.listNames(''), ['New/a']);
    assert.deepEqual(
      relay.kinds.filter((kind) => kind === Kind.ListNames || kind === Kind.List),
      [Kind.ListNames, Kind.ListNames],
    );
  } finally {
    await table.close();
  }
});
