// A soak client: LANES loops of mixed traffic against every soak owner: small and chunked echoes
// (every answer checked), streams, one-way calls, calls to churning monikers, subscriptions
// made and dropped, and a watch of the whole table. It prints its totals on SIGTERM, and exits
// with an error at the first answer that is wrong or a failure nothing explains.
import { connect, on, oneway, RuntableError } from 'runtable';
import { exitWithParent } from '../procs.ts';

const LANES = 4;
/** Echoed binary payloads are up to this large: above CHUNK_BYTES, so some travel chunked. */
const MAX_BLOB_BYTES = 200 * 1024;

type Service = { echo<T>(value: T): T; items(count: number): AsyncIterable<number>; pid(): number };
const id = process.argv[2] ?? '0';
const table = await connect();
const totals = { calls: 0, bytes: 0, streams: 0, events: 0, watched: 0, churn: 0 };
let stopping = false;

function fail(message: string): never {
  console.error(`soak client ${id}: ${message}`);
  process.exit(1);
}

/** A call to a churning moniker may find it gone: that is the churn, not a fault. */
function expectedChurnError(error: unknown): boolean {
  return error instanceof RuntableError && ['NOT_REGISTERED', 'OBJECT_GONE'].includes(error.code);
}

const unwatch = new AbortController();
const watch = (async () => {
  for await (const _ of table.watch('soak/', { signal: unwatch.signal })) totals.watched++;
})();

async function lane(lane: number): Promise<void> {
  const mains = (await table.list('soak/')).filter((entry) => entry.moniker.endsWith('/main'));
  const proxies = await Promise.all(mains.map((entry) => table.get<Service>(entry.moniker)));
  const ticks = proxies.map((proxy) => on(proxy, 'tick', () => totals.events++));
  for (let i = 0; !stopping; i++) {
    const proxy = proxies[i % proxies.length] as (typeof proxies)[number];
    const roll = (i * 7919 + lane * 104729) % 100;
    if (roll < 60) {
      const value = `${id}:${lane}:${i}`;
      if ((await proxy.echo(value)) !== value) fail(`echo of ${value} came back wrong`);
    } else if (roll < 75) {
      const blob = Buffer.alloc(1 + ((i * 4099) % MAX_BLOB_BYTES), i & 0xff);
      const back = await proxy.echo(blob);
      if (!Buffer.from(back as Uint8Array).equals(blob)) fail(`echo of ${blob.length} bytes came back wrong`);
      totals.bytes += blob.length;
    } else if (roll < 85) {
      let expected = 0;
      for await (const item of await proxy.items(100)) {
        if (item !== expected++) fail(`stream item ${item} where ${expected - 1} was due`);
      }
      if (expected !== 100) fail(`stream ended after ${expected} items`);
      totals.streams++;
    } else if (roll < 90) {
      oneway(proxy).echo('one way');
    } else if (roll < 95) {
      const churning = (await table.list('soak/')).filter((entry) => entry.moniker.includes('/churn-'));
      const entry = churning[i % Math.max(1, churning.length)];
      if (entry) {
        try {
          const remote = await table.get<Service>(entry.moniker);
          if ((await remote.pid()) !== entry.pid) fail(`${entry.moniker} answered from the wrong process`);
        } catch (error) {
          if (!expectedChurnError(error)) throw error;
        }
        totals.churn++;
      }
    } else {
      const off = on(proxy, 'tick', () => {});
      await off.ready;
      off();
    }
    totals.calls++;
  }
  for (const off of ticks) off();
}

exitWithParent();
const lanes = Array.from({ length: LANES }, (_, n) =>
  lane(n).catch((error: Error) =>
    fail(`${error instanceof RuntableError ? error.code : error.name}: ${error.message}`),
  ),
);
process.on('SIGTERM', async () => {
  stopping = true;
  await Promise.all(lanes);
  unwatch.abort();
  await watch;
  console.log(`done ${JSON.stringify(totals)}`);
  await table.close();
  process.exit(0);
});
console.log(`ready ${process.pid}`);
