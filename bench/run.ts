// The bench: runtable against a raw Unix socket (the floor) and the peers a user would pick
// instead, in interleaved rounds: each round runs every workload on every transport, the order
// of transports rotating from round to round. See bench/README.md for the workloads.
// Run: npm run bench [-- --rounds N] [--quick] [--pin] [--json file] [--only raw,runtable] [--calls]
// (--calls: only the small-call rows (a) and (b), for comparing the per-call cost of two trees)

import { parseArgs } from 'node:util';
import {
  type Budget,
  bulk,
  type Client,
  harnessAlone,
  pipelined,
  sequential,
  type Transport,
  underLoad,
} from './measure.ts';
import { coldStart, type NamingCounts, type NamingFigures, namingDbus, namingRuntable } from './naming.ts';
import { dbus } from './peers/dbus.ts';
import { grpcJs } from './peers/grpc.ts';
import { httpKeepAlive } from './peers/http.ts';
import { ipc } from './peers/ipc.ts';
import { raw } from './peers/raw.ts';
import { runtable, runtableAsync, runtableContext, runtableMonitored } from './peers/runtable.ts';
import { runtableTls } from './peers/runtable-tls.ts';
import { zeromq } from './peers/zeromq.ts';
import { canPin, cleanupAll, installCleanup, pin, tempDir, unpin } from './procs.ts';
import { Results } from './report.ts';

const TRANSPORTS: Record<string, Transport> = {
  raw,
  ipc,
  zeromq,
  http: httpKeepAlive,
  grpc: grpcJs,
  dbus,
  runtable,
  'runtable-async': runtableAsync,
  'runtable-ctx': runtableContext,
  'runtable-mon': runtableMonitored,
  'runtable-tls': runtableTls,
};

interface Counts {
  seq: Budget;
  pipelined: Budget;
  bulk: Budget;
  warm: { seq: Budget; pipelined: Budget; bulk: Budget };
  transferBytes: number;
  transferLabel: string;
  naming: NamingCounts;
}

const FULL: Counts = {
  seq: { calls: 5000, ms: 2000, min: 200 },
  pipelined: { calls: 200_000, ms: 2000, min: 640 },
  bulk: { calls: 100, ms: 2000, min: 3 },
  warm: {
    seq: { calls: 1000, ms: 1000, min: 50 },
    pipelined: { calls: 20_000, ms: 1000, min: 64 },
    bulk: { calls: 5, ms: 1000, min: 1 },
  },
  transferBytes: 100_000_000,
  transferLabel: '100 MB',
  naming: { owners: 100, perOwner: 100, lookups: 500, watches: 20 },
};

const QUICK: Counts = {
  seq: { calls: 50, ms: 500, min: 10 },
  pipelined: { calls: 256, ms: 500, min: 64 },
  bulk: { calls: 3, ms: 500, min: 1 },
  warm: {
    seq: { calls: 10, ms: 200, min: 1 },
    pipelined: { calls: 64, ms: 200, min: 1 },
    bulk: { calls: 1, ms: 200, min: 1 },
  },
  transferBytes: 2_000_000,
  transferLabel: '2 MB',
  naming: { owners: 10, perOwner: 10, lookups: 20, watches: 3 },
};

/** The harness alone, driven against an in-process loopback client (no socket, no peer). */
const HARNESS = 'harness: tags, checks';
/** What the loopback measures besides: the await of one promise per call, which every caller pays. */
const AWAIT = 'harness: await only';

/** The warm-up's transfer: enough to run the transfer path, not enough to take long. */
const WARM_TRANSFER_BYTES = 1_000_000;
/** No single step may take longer than this; a transport that hangs is failed, not waited for. */
const STEP_TIMEOUT_MS = 120_000;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
    calls: { type: 'boolean', default: false },
    naming: { type: 'boolean', default: false },
  },
});
const callsOnly = args.calls ?? false;
/** Only the naming rows (e) to (g): no call peers are opened. */
const namingOnly = args.naming ?? false;
if (callsOnly && namingOnly) throw new Error('--calls and --naming exclude each other');
const quick = args.quick ?? false;
const counts = quick ? QUICK : FULL;
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`--rounds needs a positive integer, not ${args.rounds}`);
const selected = (args.only ?? Object.keys(TRANSPORTS).join(',')).split(',');
for (const id of selected)
  if (!TRANSPORTS[id]) throw new Error(`unknown transport ${id}; known: ${Object.keys(TRANSPORTS)}`);
const pinned = (args.pin ?? false) && canPin;
if (args.pin && !canPin)
  console.error('--pin: taskset is not installed (Debian package util-linux); running unpinned only');

const results = new Results();
const total = (counts.naming.owners * counts.naming.perOwner).toLocaleString('en-US');
results.define({ id: 'seq-p50', label: '(a) sequential 64 B, p50', unit: 'µs', better: 'lower', ref: 'raw' });
results.define({ id: 'seq-p99', label: '(a) sequential 64 B, p99', unit: 'µs', better: 'lower', ref: 'raw' });
if (pinned) {
  results.define({ id: 'pin-p50', label: '(a) pinned to 1 CPU, p50', unit: 'µs', better: 'lower', ref: 'raw' });
  results.define({ id: 'pin-p99', label: '(a) pinned to 1 CPU, p99', unit: 'µs', better: 'lower', ref: 'raw' });
}
results.define({
  id: 'pipelined',
  label: '(b) pipelined 64 B, 64 in flight',
  unit: 'calls/s',
  better: 'higher',
  ref: 'raw',
});
results.define({
  id: 'cpu-client',
  label: '(b) CPU per call, client process',
  unit: 'µs',
  better: 'lower',
  ref: 'raw',
});
results.define({
  id: 'cpu-peer',
  label: '(b) CPU per call, peer processes',
  unit: 'µs',
  better: 'lower',
  ref: 'raw',
});
results.define({
  id: 'harness',
  label: "(b) the harness's own work per call",
  unit: 'ns',
  better: 'lower',
  ref: 'raw',
});
results.define({ id: 'bulk', label: '(c) 1 MiB echo', unit: 'MiB/s', better: 'higher', ref: 'raw' });
const loadLabel = `(d) 64 B p99 during ${counts.transferLabel} transfer`;
results.define({ id: 'load-p99', label: loadLabel, unit: 'ms', better: 'lower', ref: 'raw' });
const namingRows: [keyof NamingFigures, string, string][] = [
  ['register', `(e) register ${total} from ${counts.naming.owners} owners`, 'ms'],
  ['list', `(e) list ${total} by prefix, new registry`, 'ms'],
  ['listWarm', `(e) list ${total} by prefix, steady`, 'ms'],
  ['names', `(e) list names ${total} by prefix, new registry`, 'ms'],
  ['namesWarm', `(e) list names ${total} by prefix, steady`, 'ms'],
  ['lookup', '(e) lookup one', 'µs'],
  ['watch', '(e) watch: register until seen', 'ms'],
  ['kill', '(f) owner SIGKILL until watcher told', 'ms'],
  ['rss', `(g) registry RSS holding ${total}`, 'MiB'],
  ['rssGrowth', `(g) registry RSS growth for ${total}`, 'MiB'],
];
for (const [id, label, unit] of namingRows) results.define({ id, label, unit, better: 'lower', ref: 'dbus-next' });
results.define({ id: 'cold', label: '(g) cold start: connect() to first call', unit: 'ms', better: 'lower' });

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Open {
  transport: Transport;
  client: Client;
}
const broken = new Set<string>();

/** Runs one workload on one transport; a failure is recorded and the transport leaves the run. */
async function step(workload: string, name: string, fn: () => Promise<void>): Promise<void> {
  if (broken.has(name)) return;
  try {
    await withTimeout(fn(), `${name} ${workload}`);
  } catch (error) {
    results.fail(workload, name, error);
    broken.add(name);
  }
}

async function callRound(open: Open[], budgets: Counts | Counts['warm'], record: boolean): Promise<void> {
  const add = (workload: string, name: string, value: number) => {
    if (record) results.add(workload, name, value);
  };
  for (const { transport, client } of open) {
    await step('seq-p50', transport.name, async () => {
      const { p50, p99 } = await sequential(client, budgets.seq);
      add('seq-p50', transport.name, p50);
      add('seq-p99', transport.name, p99);
    });
  }
  if (pinned && record) {
    for (const { transport, client } of open) {
      await step('pin-p50', transport.name, async () => {
        const masks = pin([process.pid, ...client.pids], '0');
        try {
          const { p50, p99 } = await sequential(client, budgets.seq);
          add('pin-p50', transport.name, p50);
          add('pin-p99', transport.name, p99);
        } finally {
          unpin(masks);
        }
      });
    }
  }
  for (const { transport, client } of open) {
    await step('pipelined', transport.name, async () => {
      const figures = await pipelined(client, budgets.pipelined);
      add('pipelined', transport.name, figures.callsPerSecond);
      add('cpu-client', transport.name, figures.clientCpuUs);
      if (client.pids.length) add('cpu-peer', transport.name, figures.peerCpuUs);
      // The harness row sets the bench's own cost beside the floor's whole cost per call.
      if (transport.name === raw.name) add('harness', raw.name, 1e9 / figures.callsPerSecond);
    });
  }
  await step('harness', HARNESS, async () => {
    // Three interleaved passes, the least kept: the loopback's figure is noise on a busy machine.
    const passes = [];
    for (let i = 0; i < 3; i++) passes.push(await harnessAlone(budgets.pipelined));
    const own = Math.min(...passes.map((p) => p.loop - p.bare));
    add('harness', HARNESS, Math.max(0, own));
    add('harness', AWAIT, Math.min(...passes.map((p) => p.bare)));
  });
  if (callsOnly) return;
  for (const { transport, client } of open) {
    await step('bulk', transport.name, async () => add('bulk', transport.name, await bulk(client, budgets.bulk)));
  }
  for (const { transport, client } of open) {
    if (!client.sink) {
      results.note('load-p99', transport.name, transport.noSink ?? 'no shared connection');
      continue;
    }
    await step('load-p99', transport.name, async () => {
      const { p99 } = await underLoad(client, record ? counts.transferBytes : WARM_TRANSFER_BYTES);
      add('load-p99', transport.name, p99);
    });
  }
}

async function namingRound(round: number, record: boolean, namingCounts: NamingCounts): Promise<void> {
  if (callsOnly) return;
  const sides: [string, (c: NamingCounts) => Promise<NamingFigures>][] = [];
  if (selected.includes('runtable')) sides.push(['runtable', namingRuntable]);
  if (selected.includes('dbus')) sides.push(['dbus-next', namingDbus]);
  if (round % 2) sides.reverse();
  for (const [name, run] of sides) {
    await step('naming', name, async () => {
      const figures = await run(namingCounts);
      if (record) for (const [id] of namingRows) results.add(id, name, figures[id]);
    });
  }
  if (selected.includes('runtable')) {
    await step('cold', 'runtable', async () => {
      const ms = await coldStart();
      if (record) results.add('cold', 'runtable', ms);
    });
  }
}

installCleanup();
const open: Open[] = [];
let exitCode = 0;
try {
  // Opened at once, since each peer takes a while to start; measured one at a time after.
  const opening = (namingOnly ? [] : selected).map(async (id) => {
    const transport = TRANSPORTS[id] as Transport;
    try {
      const client = await withTimeout(transport.open(tempDir(id)), `opening ${transport.name}`);
      console.error(`opened ${transport.name}`);
      return { transport, client };
    } catch (error) {
      results.fail('open', transport.name, error);
      broken.add(transport.name);
      return undefined;
    }
  });
  for (const entry of await Promise.all(opening)) if (entry) open.push(entry);
  console.error('warm-up (not counted)');
  if (!namingOnly) await callRound(open, counts.warm, false);
  if (!quick) await namingRound(0, false, QUICK.naming);
  for (let round = 0; round < rounds; round++) {
    console.error(`round ${round + 1} of ${rounds}`);
    const order = open.map((_, i) => open[(i + round) % open.length] as Open);
    if (!namingOnly) await callRound(order, counts, true);
    await namingRound(round, true, counts.naming);
  }
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await Promise.all(open.map(({ client }) => client.close().catch(() => {})));
  cleanupAll();
}

console.log(
  `\nruntable bench: ${rounds} round(s)${quick ? ', quick' : ''}${pinned ? ', pinned latency on CPU 0' : ''}; medians of rounds, min and max; "x ref" divides the median by raw's (calls) or dbus-next's (naming)\n`,
);
console.log(results.table());
if (args.json) results.writeJson(args.json, { rounds, quick, pin: pinned, only: selected });
if (results.failures.length) {
  console.error(`\n${results.failures.length} failure(s):`);
  for (const f of results.failures) console.error(`  ${f.transport} / ${f.workload}: ${f.error}`);
  exitCode = 1;
}
process.exit(exitCode);
