// runtable ls [prefix]: the table, or the part of it under a prefix, now.

import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, noBrokerText, openTable } from './context.js';
import { EXIT } from './exit.js';
import { age, byMoniker, note, print, renderTable, shortMetadata, truncate } from './output.js';

export const ls: Command = {
  name: 'ls',
  summary: 'list the table, or the entries under a prefix',
  help: `Usage: runtable ls [prefix] [--json]

Lists the entries of the table whose moniker starts with <prefix> (all of them
without one): moniker, owner pid, methods, age since registration, metadata.
An empty table, or no broker running, lists nothing and exits 0 (with a note
on stderr). Never starts a broker.

Options:
  --json         an array of entries: {moniker, pid, methods, metadata,
                 registeredAt, changedAt}, dates in ISO 8601 (the output
                 whenever stdout is not a terminal)

Examples:
  runtable ls
  runtable ls SampleServer/
  runtable ls --json | jq -r '.[].moniker'`,
  options: { json: { type: 'boolean' } },

  async run(context) {
    const { positionals, json } = context;
    expectArgs(positionals, [], 'ls', 1);
    const prefix = positionals[0] ?? '';
    const table = await openTable(context);
    if (!table) {
      note(`runtable: ${noBrokerText(context.dir)}; the table is empty`);
      if (json) print('[]');
      return EXIT.OK;
    }
    try {
      const entries = (await table.list(prefix)).sort(byMoniker);
      if (json) {
        print(JSON.stringify(entries.map(entryJson), null, 2));
      } else if (entries.length === 0) {
        note(prefix ? `runtable: nothing is registered under ${prefix}` : 'runtable: the table is empty');
      } else {
        const { out } = context;
        const rows = entries.map((entry) => [
          out.cyan(entry.moniker),
          String(entry.pid),
          truncate(entry.methods.join(','), 40),
          age(entry.registeredAt),
          shortMetadata(entry.metadata),
        ]);
        print(renderTable(['MONIKER', 'PID', 'METHODS', 'AGE', 'METADATA'], rows, out));
      }
      return EXIT.OK;
    } finally {
      await table.close();
    }
  },
};
