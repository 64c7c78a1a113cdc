// The soak: owners, clients and watchers run mixed traffic against one table for a while (echoes
// small and chunked, streams, events, one-way calls, register and revoke churn) while the RSS of
// the broker and of every owner is sampled. It prints the samples and each process's
// least-squares slope after warm-up, and exits 1 if any grows faster than the threshold.
//
//   npm run soak -- --minutes 10            # the real thing
//   npm run soak -- --seconds 5             # a smoke run; too short to judge a trend

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from 'runtable';
import { installCleanup, type Peer, spawnPeer, tempDir, track } from './procs.ts';

/** Runs shorter than this (after warm-up) are reported but not judged: GC noise dominates. */
const MIN_JUDGED_MS = 60_000;
/** The first part of the run is warm-up: JIT, pools and V8 heaps settle. */
const WARMUP_FRACTION = 0.25;
/**
 * A V8 process's RSS swings by several MiB as its heaps grow and shrink: a trend must also show
 * as a rise of more than this from the median of the first third of the judged samples to the
 * median of the last, so that one late spike does not count as growth.
 */
const NOISE_MIB = 8;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    owners: { type: 'string', default: '3' },
    clients: { type: 'string', default: '3' },
    'max-slope': { type: 'string', default: '1' },
  },
});
const durationMs = values.seconds ? Number(values.seconds) * 1000 : Number(values.minutes ?? '1') * 60_000;
const maxSlope = Number(values['max-slope']);
if (!(durationMs > 0) || !(maxSlope > 0)) {
  console.error('usage: npm run soak -- [--minutes N | --seconds N] [--owners 3] [--clients 3] [--max-slope MiB/min]');
  process.exit(2);
}
/** About 40 samples per run, none closer than a second apart. */
const intervalMs = Math.max(1000, Math.floor(durationMs / 40));

installCleanup();
const dir = tempDir('soak');
process.env.RUNTABLE_DIR = dir;
const table = await connect({ dir });
const brokerPid = (await table.status()).pid;
track(brokerPid);
const failures: string[] = [];
const totals: Record<string, number>[] = [];
let stopping = false;

/** Starts a soak process and watches it from the start: any stderr or early exit is a failure. */
async function start(role: 'owner' | 'client', n: number): Promise<Peer> {
  const peer = await spawnPeer(`soak/${role}`, [String(n)]);
  let out = '';
  peer.child.stdout?.on('data', (chunk: string) => {
    out += chunk;
    const done = /^done (.*)$/m.exec(out);
    if (done?.[1]) totals.push(JSON.parse(done[1]));
  });
  peer.child.stderr?.on('data', (chunk: string) => failures.push(`${role} ${n}: ${chunk.trim()}`));
  peer.child.once('exit', (code, signal) => {
    if (!stopping) failures.push(`${role} ${n} exited (${signal ?? code}) during the soak`);
  });
  return peer;
}

const owners = await Promise.all(Array.from({ length: Number(values.owners) }, (_, k) => start('owner', k)));
// Clients start once every owner serves: they call whatever soak/*/main they find.
const clients = await Promise.all(Array.from({ length: Number(values.clients) }, (_, c) => start('client', c)));

const watched = [
  { name: 'broker', pid: brokerPid },
  ...owners.map((owner, k) => ({ name: `owner ${k}`, pid: owner.pid })),
];
const samples: { at: number; rss: number[] }[] = [];
const started = Date.now();
console.log(`soak: ${owners.length} owners, ${clients.length} clients, ${durationMs / 1000} s, table ${dir}`);
console.log(['t (s)', ...watched.map((w) => `${w.name} (MiB)`)].join('\t'));
while (Date.now() - started < durationMs && failures.length === 0) {
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
  const rss = watched.map((w) => rssMiB(w.pid));
  samples.push({ at: Date.now() - started, rss });
  console.log([(samples.at(-1)?.at ?? 0) / 1000, ...rss].map((n) => n.toFixed(1)).join('\t'));
}
stopping = true;
for (const client of clients) client.child.kill('SIGTERM');
await Promise.all(
  clients.map((client) =>
    client.child.exitCode === null && client.child.signalCode === null
      ? new Promise((resolve) => client.child.once('exit', resolve))
      : undefined,
  ),
);
await table.close();

const judged = samples.filter((sample) => sample.at >= durationMs * WARMUP_FRACTION);
const span = (judged.at(-1)?.at ?? 0) - (judged[0]?.at ?? 0);
let growing = false;
console.log('\nslope after warm-up (least squares):');
watched.forEach((w, i) => {
  const series = judged.map((sample) => sample.rss[i] ?? 0);
  const slope = slopePerMinute(judged.map((sample, j) => [sample.at, series[j] ?? 0]));
  const third = Math.max(1, Math.floor(series.length / 3));
  const rise = median(series.slice(-third)) - median(series.slice(0, third));
  const trend = slope > maxSlope && rise > NOISE_MIB;
  growing ||= trend;
  console.log(
    `  ${w.name}\t${slope.toFixed(2)} MiB/min, ${rise.toFixed(1)} MiB from first to last third${trend ? '  <- grows' : ''}`,
  );
});
const sum = (key: string) => totals.reduce((n, t) => n + (t[key] ?? 0), 0);
console.log(
  `traffic: ${sum('calls')} calls, ${(sum('bytes') / 2 ** 20).toFixed(0)} MiB echoed, ${sum('streams')} streams, ${sum('events')} events, ${sum('watched')} watch events, ${sum('churn')} churn calls`,
);
if (failures.length > 0) {
  console.error(`soak FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
if (span < MIN_JUDGED_MS) {
  console.log(
    `too short to judge a trend (${(span / 1000).toFixed(0)} s after warm-up; ${MIN_JUDGED_MS / 1000} s needed)`,
  );
} else if (growing) {
  console.error(`soak FAILED: RSS grows faster than ${maxSlope} MiB/min after warm-up`);
  process.exit(1);
} else console.log(`no growth trend: no slope over ${maxSlope} MiB/min with a rise over ${NOISE_MIB} MiB`);
process.exit(0);

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Least-squares slope of (ms, MiB) points, in MiB per minute. */
function slopePerMinute(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((s, [x]) => s + x, 0) / n;
  const meanY = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}
