// Call statistics as the CLI shows them: the per-method table of `inspect`, the summed columns of
// `ls --stats`, and their JSON (dates in ISO 8601). The figures come from each owner, never the broker.

import type { MethodStats, ObjectStats } from '../index.js';
import { duration, renderTable, type Style } from './output.js';

/** MethodStats as JSON: the same figures, `since` in ISO 8601. */
export function statsJson(stats: MethodStats): Record<string, unknown> {
  return { ...stats, since: stats.since.toISOString() };
}

/** An object's statistics as JSON: {since, total, methods}. */
export function objectStatsJson(stats: ObjectStats): Record<string, unknown> {
  return {
    since: stats.since.toISOString(),
    total: statsJson(stats.total),
    methods: Object.fromEntries(Object.entries(stats.methods).map(([name, method]) => [name, statsJson(method)])),
  };
}

/** "REMOTE 3, NO_SUCH_METHOD 1": the errors of `stats` by code. */
export function errorCodes(stats: MethodStats): string {
  return Object.entries(stats.outcomes)
    .filter(([code]) => code !== 'ok')
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
}

/** inspect's table: one row per method, then the totals when calls named no method. */
export function methodTable(stats: ObjectStats, out: Style): string {
  const row = (name: string, figures: MethodStats) => [
    name,
    String(figures.calls),
    figures.errors === 0 ? '0' : out.red(String(figures.errors)),
    duration(figures.p50, figures.calls),
    duration(figures.p90, figures.calls),
    duration(figures.p99, figures.calls),
    duration(figures.max, figures.calls),
    errorCodes(figures),
  ];
  const rows = Object.entries(stats.methods).map(([name, figures]) => row(name, figures));
  rows.push(row(out.bold('(all)'), stats.total));
  return renderTable(['METHOD', 'CALLS', 'ERRORS', 'P50', 'P90', 'P99', 'MAX', 'ERROR CODES'], rows, out);
}
