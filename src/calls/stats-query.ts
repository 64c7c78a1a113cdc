// The client's side of per-object statistics: asks owners for what they counted (Statistics, 75)
// and matches the answers to the table's entries. The figures themselves are statistics.ts's.

import { RuntableError } from '../errors.js';
import { Kind, type Statistics, type StatisticsReport, type WireEntry } from '../wire/protocol.js';
import { toStatisticsReports } from '../wire/validate.js';
import type { Peers } from './peers.js';
import { type ObjectStats, toObjectStats } from './statistics.js';

/** How the table reaches entries and owners, for these queries. */
export interface StatsSource {
  readonly peers: Peers;
  lookup(moniker: string): Promise<WireEntry | undefined>;
  list(prefix: string): Promise<readonly { moniker: string; pid: number }[]>;
}

/** An owner that died before the broker heard: to the caller, nothing is registered. */
export function ownerGone(moniker: string, entry: WireEntry, error: unknown): RuntableError {
  if ((error as RuntableError).code !== 'OBJECT_GONE') return error as RuntableError;
  return new RuntableError('NOT_REGISTERED', `nothing live is registered as ${moniker} (owner ${entry.pid} is gone)`, {
    cause: error,
  });
}

/** table.stats(): the statistics of the object registered as `moniker`, from its owner. */
export async function objectStats(source: StatsSource, moniker: string): Promise<ObjectStats> {
  const entry = await source.lookup(moniker);
  if (!entry) throw new RuntableError('NOT_REGISTERED', `nothing is registered as ${moniker}`);
  let reports: StatisticsReport[];
  try {
    reports = await askOwner(source, entry, { moniker });
  } catch (error) {
    throw ownerGone(moniker, entry, error);
  }
  const report = reports.find((candidate) => candidate.object === entry.object);
  if (!report) throw new RuntableError('NOT_REGISTERED', `${moniker} is no longer registered at pid ${entry.pid}`);
  return toObjectStats(report, entry.pid);
}

/** table.listStats(): every entry under `prefix` that its owner answered for, in moniker order. */
export async function listObjectStats(source: StatsSource, prefix: string): Promise<ObjectStats[]> {
  const entries = await source.list(prefix);
  const byPid = new Map<number, Set<string>>();
  for (const entry of entries) {
    const monikers = byPid.get(entry.pid) ?? new Set();
    monikers.add(entry.moniker);
    byPid.set(entry.pid, monikers);
  }
  const found = new Map<string, ObjectStats>();
  // One process may have several endpoints (several tables): ask until each entry is answered for.
  const ask = async (pid: number, remaining: Set<string>) => {
    for (const moniker of remaining) {
      remaining.delete(moniker);
      const entry = await source.lookup(moniker).catch(() => undefined);
      if (!entry || entry.pid !== pid) continue;
      const reports = await askOwner(source, entry, { prefix }).catch(() => []);
      for (const report of reports) {
        if (report.moniker === moniker ? report.object === entry.object : remaining.delete(report.moniker)) {
          found.set(report.moniker, toObjectStats(report, pid));
        }
      }
    }
  };
  await Promise.all([...byPid].map(([pid, monikers]) => ask(pid, monikers)));
  return entries
    .flatMap((entry) => found.get(entry.moniker) ?? [])
    .sort((a, b) => (a.moniker < b.moniker ? -1 : a.moniker > b.moniker ? 1 : 0));
}

async function askOwner(
  source: StatsSource,
  entry: WireEntry,
  request: { moniker: string } | { prefix: string },
): Promise<StatisticsReport[]> {
  const session = await source.peers.connect(entry.endpoint, entry.pid);
  const value = await session.connection.request<Statistics>({ kind: Kind.Statistics, ...request });
  return toStatisticsReports(value);
}
