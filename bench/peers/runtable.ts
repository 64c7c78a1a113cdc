// runtable itself: the peer registers an echo object under a moniker, the client finds it with
// table.get and calls it. Run as a process: `runtable.ts serve <dir> <moniker> [variant]` is an
// owner; `runtable.ts cold <dir>` times connect() with no broker running until a first call is done.
// The variants measure what a method's own shape costs: `async` echoes after an await (a method
// that is an async function), `context` also reads callContext() after it (issue 12).
// `runtable.ts monitor <dir> <prefix>` is a table.monitor() in a process of its own, reading every
// record: the "runtable monitored" row is the plain one with it attached (issue 18).

import { callContext, connect, type Remote, type Table } from 'runtable';
import { type Client, check, payload, SMALL_BYTES, type Transport } from '../measure.ts';
import { BROKER_IDLE_MS, exitWithParent, isPeerMain, spawnPeer, track } from '../procs.ts';

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

/** Reads every record of the owners under `prefix`; says ready once the first has come. */
async function monitor(dir: string, prefix: string): Promise<void> {
  const table = await connect({ dir, brokerIdleTimeout: BROKER_IDLE_MS });
  let records = 0;
  for await (const _ of table.monitor(prefix)) {
    if (records++ === 0) console.log('ready');
  }
}

function runtableTransport(name: string, variant: string, monitored = false): Transport {
  return {
    name,
    open: (dir) => openRuntable(dir, variant, monitored),
  };
}

async function openRuntable(dir: string, variant: string, monitored: boolean): Promise<Client> {
  // The client's table first: it starts the broker, which a bundled peer could not (no
  // broker-main file lies beside a bundle).
  const table = await openTable(dir);
  const peer = await spawnPeer('runtable', ['serve', dir, ECHO_MONIKER, variant], { bundled: true });
  const echo = await table.get<Echo>(ECHO_MONIKER);
  const pids = [peer.pid];
  let watcher: Awaited<ReturnType<typeof spawnPeer>> | undefined;
  if (monitored) {
    // The monitor is ready once it has seen a call: call until it has.
    const starting = spawnPeer('runtable', ['monitor', dir, ECHO_MONIKER], { bundled: true });
    let ready = false;
    void starting.then(
      () => {
        ready = true;
      },
      () => {},
    );
    const probe = payload(SMALL_BYTES, 1);
    while (!ready) {
      check(await echo.echo(probe), probe, 'call before the monitor is ready');
      await Promise.race([starting, new Promise((resolve) => setTimeout(resolve, 10))]);
    }
    watcher = await starting;
    pids.push(watcher.pid);
  }
  const client: Client = {
    pids,
    echo: (bytes) => echo.echo(bytes),
    sink: (bytes) => echo.sink(bytes),
    async close() {
      await table.close();
      watcher?.stop();
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
/** The plain owner with a monitor process attached, reading every call's record. */
export const runtableMonitored = runtableTransport('runtable monitored', 'plain', true);

if (isPeerMain(import.meta.url, 'runtable')) {
  exitWithParent();
  const [mode, dir, moniker, variant = 'plain'] = process.argv.slice(2) as [string, string, string, string?];
  if (mode === 'cold') await cold(dir);
  else if (mode === 'monitor') await monitor(dir, moniker);
  else await serve(dir, moniker, variant);
}
