// runtable services: the service files the table's broker reads (or would read, if none runs),
// each with what is wrong with it or whether its process is running. Never starts anything.

import { listServices } from '../broker/activation.js';
import { serviceDirs } from '../broker/service-files.js';
import type { ServiceInfo } from '../wire/protocol.js';
import { expectArgs } from './args.js';
import { type Command, type Context, openTable } from './context.js';
import { EXIT } from './exit.js';
import { note, print, renderTable, truncate } from './output.js';

export const services: Command = {
  name: 'services',
  summary: 'list the service files that start daemons on demand, and their state',
  help: `Usage: runtable services [--json]

Lists the service files (JSON files naming monikers and the command that
registers them) that a get, wait or call of one of those monikers starts:
the file, its monikers, and whether its process is running, or why it will
never run (malformed, another user's, writable by group or others). The
files are read from RUNTABLE_SERVICES (colon-separated directories) else
$XDG_CONFIG_HOME/runtable/services (~/.config/runtable/services), as the
broker sees them; with no broker running, as this command sees them.
Never starts a broker or a service. A table on etcd has no activation: there
this command is refused with exit 2.

Options:
  --json         an array of {file, monikers, command?, problem?, pid?}

Examples:
  runtable services
  runtable services --json | jq -r '.[] | select(.problem) | .problem'`,
  options: { json: { type: 'boolean' } },
  localOnly: 'a table on etcd starts no services: only a local broker does',

  async run(context) {
    expectArgs(context.positionals, [], 'services');
    const infos = await readInfos(context);
    if (context.json) {
      print(JSON.stringify(infos, null, 2));
      return EXIT.OK;
    }
    if (infos.length === 0) {
      note(`runtable: no service files in ${serviceDirs().join(':')}`);
      return EXIT.OK;
    }
    const { out } = context;
    const rows = infos.map((info) => [
      info.file,
      out.cyan(truncate(info.monikers.join(','), 40)),
      info.problem !== undefined
        ? out.red('never runs')
        : info.pid !== undefined
          ? `running, pid ${info.pid}`
          : out.dim('not running'),
    ]);
    print(renderTable(['FILE', 'MONIKERS', 'STATE'], rows, out));
    for (const info of infos) if (info.problem !== undefined) note(`runtable: ${info.problem}`);
    return EXIT.OK;
  },
};

/** From the broker when one runs (its view is the one that counts), else from this process's view. */
export async function readInfos(context: Context): Promise<ServiceInfo[]> {
  const table = await openTable(context);
  if (!table) return listServices(serviceDirs(), context.dir);
  try {
    return await table.services();
  } finally {
    await table.close();
  }
}
