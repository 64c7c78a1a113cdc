// runtable ls [prefix]: the table, or the part of it under a prefix, now; with --names, only
// the monikers, one a line, for scripts and shell completion.

import type { ObjectStats } from '../index.js';
import type { Entry } from '../naming/entry.js';
import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, type Context, noBrokerText, notOnEtcd, openTable } from './context.js';
import { EXIT, UsageError } from './exit.js';
import { age, byMoniker, duration, note, print, renderTable, shortMetadata, truncate } from './output.js';
import { readInfos } from './services.js';
import { statsJson } from './stats.js';

export const ls: Command = {
  name: 'ls',
  summary: 'list the table, or the entries under a prefix',
  help: `Usage: runtable ls [prefix] [--names] [--all] [--stats] [--json]

Lists the entries of the table whose moniker starts with <prefix> (all of them
without one): moniker, owner pid, methods, age since registration, metadata.
An empty table, or no broker running, lists nothing and exits 0 (with a note
on stderr). Never starts a broker, nor a service.

Options:
  --names        only the monikers, one a line (on a pipe too), in moniker
                 order, and nothing else (no note on stderr either): for
                 scripts and shell completion; far cheaper than the full list
                 for a large table (table.listNames); with --json, an array
                 of strings; with --all, the activatable monikers too; not
                 with --stats
  --all          also the monikers that service files name and nobody holds
                 now: a get, wait or call of one starts its service (a local
                 table only: on etcd, exit 2)
  --stats        also each entry's calls, errors and p99 latency since it
                 was registered, asked of each owner (one request per owner)
  --json         an array of entries: {moniker, pid, methods, metadata,
                 registeredAt, changedAt}, dates in ISO 8601; with --all,
                 also {moniker, activatable: true, service: <file>}; with
                 --stats, each entry has stats: {calls, errors, outcomes, p50,
                 p90, p99, max, since} (its totals, ms), or null when its owner
                 could not be asked

Examples:
  runtable ls
  runtable ls SampleServer/
  runtable ls --all
  runtable ls --stats SampleServer/
  runtable ls --names SampleServer/
  runtable ls --json | jq -r '.[].moniker'`,
  options: {
    json: { type: 'boolean' },
    all: { type: 'boolean' },
    stats: { type: 'boolean' },
    names: { type: 'boolean' },
  },

  async run(context) {
    const { positionals, values, json } = context;
    expectArgs(positionals, [], 'ls', 1);
    const prefix = positionals[0] ?? '';
    if (values.all && context.etcd) {
      throw notOnEtcd(context, '--all', 'a table on etcd starts no services', 'ls');
    }
    if (values.names && values.stats) throw new UsageError('--names lists no statistics: leave out --stats', 'ls');
    const dormant = values.all ? await activatableUnder(context, prefix) : [];
    const table = await openTable(context);
    if (values.names) {
      try {
        showNames(context, table ? await table.listNames(prefix) : [], dormant);
      } finally {
        await table?.close();
      }
      return EXIT.OK;
    }
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
      const stats = values.stats ? await statsByMoniker(table.listStats(prefix), entries) : undefined;
      show(
        context,
        entries,
        dormant.filter((service) => !held.has(service.moniker)),
        stats,
      );
      return EXIT.OK;
    } finally {
      await table.close();
    }
  },
};

/** The monikers held and, with --all, those a service would provide, merged in moniker order. */
function showNames(context: Context, held: string[], dormant: Dormant[]): void {
  const names = dormant.length === 0 ? held : [...new Set([...held, ...dormant.map((d) => d.moniker)])];
  // In code-unit order on every backend (etcd's own order is by bytes), as the full list shows.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // One a line on a pipe too (what scripts read): JSON only when --json asks for it.
  if (context.values.json === true) print(JSON.stringify(names));
  else if (names.length > 0) print(names.join('\n'));
}

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

/** Each listed entry's statistics, by moniker, when its owner answered for the same registration. */
async function statsByMoniker(listed: Promise<ObjectStats[]>, entries: Entry[]): Promise<Map<string, ObjectStats>> {
  const pids = new Map(entries.map((entry) => [entry.moniker, entry.pid]));
  const found = new Map<string, ObjectStats>();
  for (const stats of await listed) if (pids.get(stats.moniker) === stats.pid) found.set(stats.moniker, stats);
  return found;
}

function show(context: Context, entries: Entry[], dormant: Dormant[], stats?: Map<string, ObjectStats>): void {
  const { json, out } = context;
  const prefix = context.positionals[0] ?? '';
  if (json) {
    const withStats = (entry: Entry) => {
      const found = stats?.get(entry.moniker);
      return { ...entryJson(entry), stats: found ? statsJson(found.total) : null };
    };
    const rows = [
      ...entries.map(stats ? withStats : entryJson),
      ...dormant.map((service) => ({ moniker: service.moniker, activatable: true, service: service.service })),
    ];
    print(JSON.stringify(rows, null, 2));
    return;
  }
  if (entries.length === 0 && dormant.length === 0) {
    note(prefix ? `runtable: nothing is registered under ${prefix}` : 'runtable: the table is empty');
    return;
  }
  const figures = (entry: Entry): string[] => {
    if (!stats) return [];
    const total = stats.get(entry.moniker)?.total;
    if (!total) return [out.dim('-'), out.dim('-'), out.dim('-')];
    return [
      String(total.calls),
      total.errors === 0 ? '0' : out.red(String(total.errors)),
      duration(total.p99, total.calls),
    ];
  };
  const rows: [string, string[]][] = entries.map((entry) => [
    entry.moniker,
    [
      out.cyan(entry.moniker),
      String(entry.pid),
      truncate(entry.methods.join(','), 40),
      age(entry.registeredAt),
      ...figures(entry),
      shortMetadata(entry.metadata),
    ],
  ]);
  const blanks = stats ? ['', '', ''] : [];
  for (const service of dormant) {
    rows.push([
      service.moniker,
      [out.cyan(service.moniker), out.dim('-'), '', '', ...blanks, out.dim(`(activatable: ${service.service})`)],
    ]);
  }
  rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  print(
    renderTable(
      ['MONIKER', 'PID', 'METHODS', 'AGE', ...(stats ? ['CALLS', 'ERRORS', 'P99'] : []), 'METADATA'],
      rows.map(([, row]) => row),
      out,
    ),
  );
}
