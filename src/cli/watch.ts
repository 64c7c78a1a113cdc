// runtable watch [prefix]: the entries under a prefix as "registered" lines, then one line per
// change as it happens, until Ctrl-C or SIGTERM, which end it cleanly with exit 0. With no broker
// running it waits for one: an absent table is an empty one.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Table, TableEvent } from '../index.js';
import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, type Context, noBrokerText, openTable } from './context.js';
import { EXIT } from './exit.js';
import { note, print, shortMetadata } from './output.js';

/** With no broker running, how often to look for one. */
const BROKER_POLL_MS = 250;

export const watch: Command = {
  name: 'watch',
  summary: 'print each change of the table as it happens',
  help: `Usage: runtable watch [prefix] [--json]

Prints the entries under <prefix> now, as "registered" events, then one line
per event as it happens: registered, changed (a touch) or revoked, with the
time. Runs until Ctrl-C or SIGTERM, then exits 0. If no broker runs, waits
for one (it never starts one); a broker restart is followed without a gap.
On etcd, an etcd that does not answer at the start is exit 5.

Options:
  --json         NDJSON: one {time, type, entry} object per line, entry as in
                 runtable ls --json (the output whenever stdout is not a
                 terminal)

Examples:
  runtable watch
  runtable watch SampleServer/
  runtable watch --json | jq -c 'select(.type == "revoked") | .entry.moniker'`,
  options: { json: { type: 'boolean' } },

  async run(context) {
    const { positionals } = context;
    expectArgs(positionals, [], 'watch', 1);
    const prefix = positionals[0] ?? '';
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let table: Table | undefined;
    try {
      table = await waitForTable(context, stop.signal);
      if (!table) return EXIT.OK;
      const show = context.json ? showJson : showLine(context);
      for await (const event of table.watch(prefix, { signal: stop.signal })) show(event);
      return EXIT.OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await table?.close();
    }
  },
};

/** Connects once a broker runs (none is started): undefined if `signal` aborts first. */
export async function waitForTable(context: Context, signal: AbortSignal): Promise<Table | undefined> {
  let noted = false;
  while (!signal.aborted) {
    const table = await openTable(context);
    if (table) return table;
    if (!noted) {
      note(`runtable: ${noBrokerText(context.dir)}; waiting for one (Ctrl-C to stop)`);
      noted = true;
    }
    await sleep(BROKER_POLL_MS, undefined, { signal }).catch(() => {});
  }
  return undefined;
}

function showJson(event: TableEvent): void {
  print(JSON.stringify({ time: new Date().toISOString(), type: event.type, entry: entryJson(event.entry) }));
}

/** Lines for a person; monikers padded to the longest seen so far, so columns mostly line up. */
function showLine(context: Context): (event: TableEvent) => void {
  const { out } = context;
  let width = 0;
  return ({ type, entry }) => {
    width = Math.max(width, entry.moniker.length);
    const paint = type === 'registered' ? out.green : type === 'revoked' ? out.red : out.yellow;
    const metadata = shortMetadata(entry.metadata);
    const moniker = out.cyan(entry.moniker) + ' '.repeat(width - entry.moniker.length);
    const details = `pid ${entry.pid}${metadata ? `  ${metadata}` : ''}`;
    print(`${out.dim(clock(new Date()))}  ${paint(type.padEnd(10))}  ${moniker}  ${details}`);
  };
}

/** Local wall-clock time with milliseconds: 14:03:27.512. */
function clock(time: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const ms = String(time.getMilliseconds()).padStart(3, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${ms}`;
}
