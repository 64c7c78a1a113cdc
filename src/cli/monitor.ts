// runtable monitor [prefix]: one line per call on the owners under a prefix, as each call ends,
// like busctl monitor for a table whose calls never pass the broker (table.monitor()). Runs until
// Ctrl-C or SIGTERM, which end it with exit 0. Values only with --values.

import type { CallRecord } from '../index.js';
import { expectArgs } from './args.js';
import type { Command, Context } from './context.js';
import { EXIT, untilInterrupted } from './exit.js';
import { print, truncate } from './output.js';
import { waitForTable } from './watch.js';

/** Width used when stdout is a terminal that does not say how wide it is. */
const DEFAULT_COLUMNS = 120;
/** The outcome column: wide enough for NO_SUCH_METHOD; the rare longer codes push the line on. */
const OUTCOME_WIDTH = 14;
/** Monikers longer than this push the columns after them out of line rather than widen them all. */
const MAX_NAME_WIDTH = 48;

export const monitor: Command = {
  name: 'monitor',
  summary: 'print every call on the objects under a prefix as it ends',
  help: `Usage: runtable monitor [prefix] [--json] [--method <name>] [--errors] [--values]

Prints one line per call on any owner of an object under <prefix>, as the call
ends: the time, caller pid → owner pid, moniker.method, the outcome (ok or the
error code), how long it took, and the bytes in and out. One-way calls,
streams (with the items sent) and callbacks are shown too. Owners that
register later are picked up. Calls never pass the broker: each owner sends
its own records. Runs until Ctrl-C or SIGTERM, then exits 0.

Options:
  --json           NDJSON: one object per call (the output whenever stdout is
                   not a terminal)
  --method <name>  only calls of this method
  --errors         only calls that did not end ok
  --values         also the arguments and the result, as text cut to 256
                   characters (without it a monitor sees names, sizes and
                   timings only)

Examples:
  runtable monitor SampleServer/
  runtable monitor --errors
  runtable monitor --json | jq -c 'select(.ms > 100)'`,
  options: {
    json: { type: 'boolean' },
    method: { type: 'string' },
    errors: { type: 'boolean' },
    values: { type: 'boolean' },
  },

  async run(context) {
    const { positionals, values } = context;
    expectArgs(positionals, [], 'monitor', 1);
    const prefix = positionals[0] ?? '';
    const method = typeof values.method === 'string' ? values.method : undefined;
    const errorsOnly = values.errors === true;
    return untilInterrupted(async (signal) => {
      const table = await waitForTable(context, signal);
      if (!table) return EXIT.OK;
      try {
        const show = context.json ? showJson : showLine(context);
        for await (const record of table.monitor(prefix, { signal, values: values.values === true })) {
          if (method !== undefined && record.method !== method) continue;
          if (errorsOnly && record.outcome === 'ok') continue;
          show(record);
        }
        return EXIT.OK;
      } finally {
        await table.close();
      }
    });
  },
};

function showJson(record: CallRecord): void {
  const { endedAt, ...rest } = record;
  print(JSON.stringify({ time: endedAt.toISOString(), ...rest }));
}

/** A line for a person, cut to the terminal's width: 14:03:27.512  4100 → 4087  Moniker.method  ok  0.21 ms ... */
function showLine(context: Context): (record: CallRecord) => void {
  const { out } = context;
  let width = 0;
  return (record) => {
    if (record.missed > 0) {
      print(out.yellow(`… ${record.missed} calls of owner ${record.ownerPid} missed (this monitor read too slowly)`));
    }
    const name = `${record.moniker}.${record.method || '(callback)'}`;
    width = Math.max(width, Math.min(name.length, MAX_NAME_WIDTH));
    const pids = `${record.callerPid} → ${record.ownerPid}`.padEnd(15);
    const outcomeText = record.outcome;
    const kind = [
      record.oneway ? 'one-way' : '',
      record.stream ? `stream ${record.items} items` : '',
      record.callback ? 'callback' : '',
    ]
      .filter(Boolean)
      .join(', ');
    const values =
      record.args === undefined ? '' : `  (${record.args})${record.result === undefined ? '' : ` → ${record.result}`}`;
    const tail = `${formatMs(record.ms).padStart(9)}  ${bytes(record.bytesIn)} → ${bytes(record.bytesOut)}${kind ? `  ${kind}` : ''}${values}`;
    const head = [clock(record.endedAt), pids, name.padEnd(width), outcomeText.padEnd(OUTCOME_WIDTH)];
    const room = (process.stdout.columns || DEFAULT_COLUMNS) - head.join('  ').length - 2;
    // Only the tail is cut, so the colours of the head's columns stay whole.
    const paint = record.outcome === 'ok' ? out.green : out.red;
    const outcome = paint(outcomeText) + ' '.repeat(Math.max(0, OUTCOME_WIDTH - outcomeText.length));
    const called = out.cyan(name) + ' '.repeat(Math.max(0, width - name.length));
    print(`${out.dim(head[0] as string)}  ${pids}  ${called}  ${outcome}  ${truncate(tail, Math.max(room, 8))}`);
  };
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function bytes(count: number): string {
  return count < 10_000 ? `${count} B` : `${Math.round(count / 1024)} KiB`;
}

/** Local wall-clock time with milliseconds: 14:03:27.512. */
function clock(time: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`;
}
