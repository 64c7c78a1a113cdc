// runtable itself: the peer registers an echo object under a moniker, the client finds it with
// table.get and calls it. Run as a process: `runtable.ts serve <dir> <moniker> [variant]` is an
// owner; `runtable.ts cold <dir>` times connect() with no broker running until a first call is done.
// The variants measure what a method's own shape costs: `async` echoes after an await (a method
// that is an async function), `context` also reads callContext() after it (issue 12).

import { fileURLToPath } from 'node:url';
import { callContext, connect, type Remote, type Table } from 'runtable';
import { type Client, check, payload, SMALL_BYTES, type Transport } from '../measure.ts';
import { BROKER_IDLE_MS, exitWithParent, spawnPeer, track } from '../procs.ts';

export const ECHO_MONIKER = 'bench/echo';

export const echoObject = {
  echo: (bytes: Uint8Array) => bytes,
  sink: (bytes: Uint8Array) => bytes.byteLength,
};

export type Echo = typeof echoObject;

/** The owner's object for each variant of the peer. */
const VARIANTS: Record<string, { [K in keyof Echo]: (bytes: Uint8Array) => unknown }> = {
  plain: echoObject,
  async: {
    async echo(bytes) {
      await null;
      return bytes;
    },
    sink: echoObject.sink,
  },
  context: {
    async echo(bytes) {
      await null;
      if (callContext().pid === 0) throw new Error('no caller pid');
      return bytes;
    },
    sink: echoObject.sink,
  },
};

/** A table on `dir` whose broker, if this call starts it, is killed at the end of the bench. */
export async function openTable(dir: string): Promise<Table> {
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  track((await table.status()).pid);
  return table;
}

async function serve(dir: string, moniker: string, variant: string): Promise<void> {
  const object = VARIANTS[variant];
  if (!object) throw new Error(`no variant ${variant} of the runtable peer`);
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  await table.register(moniker, object);
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

function runtableTransport(name: string, variant: string): Transport {
  return {
    name,
    open: (dir) => openRuntable(dir, variant),
  };
}

async function openRuntable(dir: string, variant: string): Promise<Client> {
  const peer = await spawnPeer('runtable', ['serve', dir, ECHO_MONIKER, variant]);
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
}

export const runtable = runtableTransport('runtable', 'plain');
/** The owner's echo is an async function. */
export const runtableAsync = runtableTransport('runtable async method', 'async');
/** The owner's echo is an async function that reads callContext() after its await. */
export const runtableContext = runtableTransport('runtable callContext', 'context');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  exitWithParent();
  const [mode, dir, moniker, variant = 'plain'] = process.argv.slice(2) as [string, string, string, string?];
  if (mode === 'cold') await cold(dir);
  else await serve(dir, moniker, variant);
}
