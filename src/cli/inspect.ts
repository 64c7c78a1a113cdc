// runtable inspect <moniker>: everything the table knows of one entry.

import { RuntableError } from '../errors.js';
import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, noBrokerText, openTable } from './context.js';
import { EXIT } from './exit.js';
import { age, note, print } from './output.js';
import { errorCodes, methodTable, objectStatsJson } from './stats.js';

export const inspect: Command = {
  name: 'inspect',
  summary: 'everything the table knows of one entry',
  help: `Usage: runtable inspect <moniker> [--json]

Shows one entry: moniker, owner pid, methods, metadata, when it was
registered and when it last changed (registration or touch), and the pids
of the standbys waiting in line for it (register's queue), next first; then
its call statistics, asked of the owner: per method calls, errors and latency
percentiles (p50, p90, p99, max) since it was registered, and the totals
(all), which also count calls naming no method. Percentiles are within 9% above
the true value (see the README, "Per-object statistics").
Exits 3 if nothing is registered under <moniker>. Never starts a broker.

Options:
  --json         the entry as {moniker, pid, methods, metadata, registeredAt,
                 changedAt, waiting, stats}, dates in ISO 8601, waiting the pids,
                 stats {since, total, methods: {name: figures}} with figures
                 {calls, errors, outcomes, p50, p90, p99, max, since} (ms), or
                 null when the owner could not be asked

Examples:
  runtable inspect SampleServer/alpha
  runtable inspect SampleServer/alpha --json | jq .metadata`,
  options: { json: { type: 'boolean' } },

  async run(context) {
    const { positionals, json, out } = context;
    expectArgs(positionals, ['<moniker>'], 'inspect');
    const moniker = positionals[0] as string;
    const table = await openTable(context);
    if (!table) throw notRegistered(moniker, ` (${noBrokerText(context.dir)})`);
    try {
      const entry = await table.lookup(moniker);
      if (!entry) throw notRegistered(moniker, '');
      const { waiting } = await table.status();
      const line = waiting?.find((candidate) => candidate.moniker === moniker)?.pids ?? [];
      // An owner too old to count, or gone since the lookup: the entry is still worth showing.
      const stats = await table.stats(moniker).catch((error: Error) => error);
      if (json) {
        const figures = stats instanceof Error ? null : objectStatsJson(stats);
        if (stats instanceof Error) note(`runtable: no statistics: ${stats.message}`);
        print(JSON.stringify({ ...entryJson(entry), waiting: line, stats: figures }, null, 2));
        return EXIT.OK;
      }
      const field = (name: string, value: string) => print(`${out.bold(`${name}:`.padEnd(14))}${value}`.trimEnd());
      field('moniker', out.cyan(entry.moniker));
      field('pid', String(entry.pid));
      field('registered', `${entry.registeredAt.toISOString()} (${age(entry.registeredAt)} ago)`);
      field('changed', `${entry.changedAt.toISOString()} (${age(entry.changedAt)} ago)`);
      field('methods', entry.methods.length === 0 ? out.dim('(none)') : entry.methods.join(', '));
      const metadata = Object.entries(entry.metadata);
      if (metadata.length === 0) field('metadata', out.dim('(none)'));
      else {
        print(out.bold('metadata:'));
        for (const [key, value] of metadata) print(`  ${key}: ${JSON.stringify(value)}`);
      }
      field('waiting', line.length === 0 ? out.dim('(nobody in line)') : line.map((pid) => `pid ${pid}`).join(', '));
      if (stats instanceof Error) {
        field('calls', out.dim(`(no statistics: ${stats.message})`));
        return EXIT.OK;
      }
      const { total } = stats;
      const errors =
        total.errors === 0
          ? 'no errors'
          : `${total.errors} error${total.errors === 1 ? '' : 's'}: ${errorCodes(total)}`;
      field('calls', `${total.calls} since ${stats.since.toISOString()} (${errors})`);
      print(methodTable(stats, out));
      return EXIT.OK;
    } finally {
      await table.close();
    }
  },
};

export function notRegistered(moniker: string, why: string): RuntableError {
  return new RuntableError('NOT_REGISTERED', `nothing is registered as ${moniker}${why}; see runtable ls`);
}
