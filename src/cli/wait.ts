// runtable wait <moniker>: returns once the moniker is registered (at once if it is), starting
// the service that provides it if a service file names it; exit 4 when the timeout passes first.
// Shell scripts use it to stop caring about start order.

import { entryJson } from '../naming/entry.js';
import { expectArgs, msOption } from './args.js';
import { type Command, openOrStartTable } from './context.js';
import { EXIT, untilInterrupted } from './exit.js';
import { print } from './output.js';

/** How long `runtable wait` waits without --timeout, ms. */
export const DEFAULT_WAIT_MS = 30_000;

export const wait: Command = {
  name: 'wait',
  summary: 'wait until a moniker is registered (starting its service if a file names it)',
  help: `Usage: runtable wait <moniker> [--timeout ms] [--json]

Returns as soon as <moniker> is registered, at once if it already is, and
prints its moniker and owner pid. If nobody holds it and a service file names
it, the file's command is started (activation). Starts a broker if none runs:
the broker is what hears of the name. Exits 4 if the timeout passes first,
130 on Ctrl-C.

Options:
  --timeout <ms>  give up after this long (exit 4); default ${DEFAULT_WAIT_MS}
  --json          the entry as in runtable inspect --json

Examples:
  runtable wait Build/daemon && runtable call Build/daemon build
  runtable wait Db/main --timeout 5000 || echo "no database"`,
  options: { timeout: { type: 'string' }, json: { type: 'boolean' } },

  async run(context) {
    const { positionals, values } = context;
    expectArgs(positionals, ['<moniker>'], 'wait');
    const moniker = positionals[0] as string;
    const timeout = msOption(values, 'timeout', 'wait') ?? DEFAULT_WAIT_MS;
    const table = await openOrStartTable(context);
    try {
      return await untilInterrupted(async (signal) => {
        const entry = await table.waitFor(moniker, { timeout, signal });
        if (context.json) print(JSON.stringify(entryJson(entry), null, 2));
        else print(`${context.out.cyan(entry.moniker)} registered by pid ${entry.pid}`);
        return EXIT.OK;
      });
    } finally {
      await table.close();
    }
  },
};
