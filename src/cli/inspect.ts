// runtable inspect <moniker>: everything the table knows of one entry.

import { RuntableError } from '../errors.js';
import { entryJson } from '../naming/entry.js';
import { expectArgs } from './args.js';
import { type Command, noBrokerText, openTable } from './context.js';
import { EXIT } from './exit.js';
import { age, print } from './output.js';

export const inspect: Command = {
  name: 'inspect',
  summary: 'everything the table knows of one entry',
  help: `Usage: runtable inspect <moniker> [--json]

Shows one entry: moniker, owner pid, methods, metadata, when it was
registered and when it last changed (registration or touch), and the pids
of the standbys waiting in line for it (register's queue), next first.
Exits 3 if nothing is registered under <moniker>. Never starts a broker.

Options:
  --json         the entry as {moniker, pid, methods, metadata, registeredAt,
                 changedAt, waiting}, dates in ISO 8601, waiting the pids

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
      if (json) {
        print(JSON.stringify({ ...entryJson(entry), waiting: line }, null, 2));
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
      return EXIT.OK;
    } finally {
      await table.close();
    }
  },
};

export function notRegistered(moniker: string, why: string): RuntableError {
  return new RuntableError('NOT_REGISTERED', `nothing is registered as ${moniker}${why}; see runtable ls`);
}
