// runtable ls [prefix]: the table, or the part of it under a prefix, now.

import type { Entry } from '../naming/entry.js';
import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, type Context, noBrokerText, notOnEtcd, openTable } from './context.js';
import { EXIT } from './exit.js';
import { age, byMoniker, note, print, renderTable, shortMetadata, truncate } from './output.js';
import { readInfos } from './services.js';

export const ls: Command = {
  name: 'ls',
  summary: 'list the table, or the entries under a prefix',
  help: `Usage: runtable ls [prefix] [--all] [--json]

Lists the entries of the table whose moniker starts with <prefix> (all of them
without one): moniker, owner pid, methods, age since registration, metadata.
An empty table, or no broker running, lists nothing and exits 0 (with a note
on stderr). Never starts a broker, nor a service.

Options:
  --all          also the monikers that service files name and nobody holds
                 now: a get, wait or call of one starts its service (a local
                 table only: on etcd, exit 2)
  --json         an array of entries: {moniker, pid, methods, metadata,
                 registeredAt, changedAt}, dates in ISO 8601; with --all,
                 also {moniker, activatable: true, service: <file>}

Examples:
  runtable ls
  runtable ls SampleServer/
  runtable ls --all
  runtable ls --json | jq -r '.[].moniker'`,
  options: { json: { type: 'boolean' }, all: { type: 'boolean' } },

  async run(context) {
    const { positionals, values, json } = context;
    expectArgs(positionals, [], 'ls', 1);
    const prefix = positionals[0] ?? '';
    if (values.all && context.etcd) {
      throw notOnEtcd(context, '--all', 'a table on etcd starts no services', 'ls');
    }
    const dormant = values.all ? await activatableUnder(context, prefix) : [];
    const table = await openTable(context);
    if (!table) {
      if (dormant.length > 0) show(context, [], dormant);
      else {
        note(`runtable: ${noBrokerText(context.dir)}; the table is empty`);
        if (json) print('[]');
      }
      return EXIT.OK;
    }
    try {
      const entries = (await table.list(prefix)).sort(byMoniker);
      const held = new Set(entries.map((entry) => entry.moniker));
      show(
        context,
        entries,
        dormant.filter((service) => !held.has(service.moniker)),
      );
      return EXIT.OK;
    } finally {
      await table.close();
    }
  },
};

/** A moniker a service file names, which a get would start. */
interface Dormant {
  moniker: string;
  service: string;
}

/** Monikers under `prefix` that well-formed service files name (the first file naming each wins). */
async function activatableUnder(context: Context, prefix: string): Promise<Dormant[]> {
  const found = new Map<string, string>();
  for (const info of await readInfos(context)) {
    if (info.problem !== undefined) continue;
    for (const moniker of info.monikers) {
      if (moniker.startsWith(prefix) && !found.has(moniker)) found.set(moniker, info.file);
    }
  }
  return [...found].map(([moniker, service]) => ({ moniker, service }));
}

function show(context: Context, entries: Entry[], dormant: Dormant[]): void {
  const { json, out } = context;
  const prefix = context.positionals[0] ?? '';
  if (json) {
    const rows = [
      ...entries.map(entryJson),
      ...dormant.map((service) => ({ moniker: service.moniker, activatable: true, service: service.service })),
    ];
    print(JSON.stringify(rows, null, 2));
    return;
  }
  if (entries.length === 0 && dormant.length === 0) {
    note(prefix ? `runtable: nothing is registered under ${prefix}` : 'runtable: the table is empty');
    return;
  }
  const rows: [string, string[]][] = entries.map((entry) => [
    entry.moniker,
    [
      out.cyan(entry.moniker),
      String(entry.pid),
      truncate(entry.methods.join(','), 40),
      age(entry.registeredAt),
      shortMetadata(entry.metadata),
    ],
  ]);
  for (const service of dormant) {
    rows.push([
      service.moniker,
      [out.cyan(service.moniker), out.dim('-'), '', '', out.dim(`(activatable: ${service.service})`)],
    ]);
  }
  rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  print(
    renderTable(
      ['MONIKER', 'PID', 'METHODS', 'AGE', 'METADATA'],
      rows.map(([, row]) => row),
      out,
    ),
  );
}
