// runtable itself: the peer registers an echo object under a moniker, the client finds it with
// table.get and calls it. Run as a process: `runtable.ts serve <dir> <moniker>` is an owner;
// `runtable.ts cold <dir>` times connect() with no broker running until a first call is done.

import { fileURLToPath } from 'node:url';
import { connect, type Remote, type Table } from 'runtable';
import { type Client, check, payload, SMALL_BYTES, type Transport } from '../measure.ts';
import { BROKER_IDLE_MS, exitWithParent, spawnPeer, track } from '../procs.ts';

export const ECHO_MONIKER = 'bench/echo';

export const echoObject = {
  echo: (bytes: Uint8Array) => bytes,
  sink: (bytes: Uint8Array) => bytes.byteLength,
};

export type Echo = typeof echoObject;

/** A table on `dir` whose broker, if this call starts it, is killed at the end of the bench. */
export async function openTable(dir: string): Promise<Table> {
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  track((await table.status()).pid);
  return table;
}

async function serve(dir: string, moniker: string): Promise<void> {
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  await table.register(moniker, echoObject);
  console.log('ready');
}

async function cold(dir: string): Promise<void> {
  const sent = payload(SMALL_BYTES, 1);
  const start = performance.now();
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  await table.register(ECHO_MONIKER, echoObject);
  const echo: Remote<Echo> = await table.get<Echo>(ECHO_MONIKER);
  check(await echo.echo(sent), sent, 'cold start call');
  const ms = performance.now() - start;
  const { pid } = await table.status();
  console.log(`ready ${JSON.stringify({ ms, brokerPid: pid })}`);
  await table.close();
  process.exit(0);
}

export const runtable: Transport = {
  name: 'runtable',
  async open(dir) {
    const peer = await spawnPeer('runtable', ['serve', dir, ECHO_MONIKER]);
    const table = await openTable(dir);
    const echo = await table.get<Echo>(ECHO_MONIKER);
    const client: Client = {
      pids: [peer.pid],
      echo: (bytes) => echo.echo(bytes),
      sink: (bytes) => echo.sink(bytes),
      async close() {
        await table.close();
        peer.stop();
      },
    };
    return client;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  exitWithParent();
  const [mode, dir, moniker] = process.argv.slice(2) as [string, string, string];
  if (mode === 'cold') await cold(dir);
  else await serve(dir, moniker);
}
