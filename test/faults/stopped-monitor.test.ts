// A monitor process stopped with SIGSTOP while the owner it watches takes a flood of calls: the
// owner keeps answering, holds no more than its bound unsent for the monitor (it drops the
// records and counts them), and once the monitor runs again it is told exactly how many it missed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RECORDS_PER_BATCH, MONITOR_BACKLOG_BYTES } from '../../src/calls/monitor-owner.ts';
import { spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

/** Generous for one batch of records, which may go out after the backlog was checked. */
const BATCH_ALLOWANCE = MAX_RECORDS_PER_BATCH * 512;

interface Line {
  method: string;
  moniker: string;
  missed: number;
}

test('a SIGSTOPped monitor is dropped past the bound while the owner answers; after SIGCONT it hears what it missed', async () => {
  const owner = spawnFixture('monitored', ['Stop/a'], t.dir);
  await owner.waitForLine(/^ready/);
  const watcher = spawnFixture('monitor-watcher', ['Stop/'], t.dir);
  type Service = {
    echo(value: string): string;
    ping(): string;
    backlog(): { bytes: number; monitors: number; rss: number };
  };
  const remote = await t.table.get<Service>('Stop/a');
  let calls = 0;
  const echo = async () => {
    calls++;
    await remote.echo('x'.repeat(64));
  };
  // Pings until the monitor shows one; they are left out of the count below.
  await waitFor(
    async () => {
      await remote.ping();
      return watcher.lines.length > 0;
    },
    15_000,
    'the monitor to attach',
  );
  const before = await remote.backlog();
  calls++; // recorded like every call from here on
  assert.equal(before.monitors, 1);

  watcher.child.kill('SIGSTOP');
  let peak = 0;
  // 40,000 calls: about 6 MB of records, far past what the socket and the bound take.
  for (let round = 0; round < 40; round++) {
    await Promise.all(Array.from({ length: 1000 }, echo));
    const { bytes } = await remote.backlog();
    calls++; // backlog() is a call too, and is recorded (or missed) like the others
    peak = Math.max(peak, bytes);
  }
  const after = await remote.backlog();
  calls++;
  assert.ok(
    peak <= MONITOR_BACKLOG_BYTES + BATCH_ALLOWANCE,
    `the owner held ${peak} bytes unsent for the stopped monitor; the bound is ${MONITOR_BACKLOG_BYTES}`,
  );
  assert.ok(peak > MONITOR_BACKLOG_BYTES / 2, `the monitor's backlog did fill (${peak} bytes)`);
  const grown = after.rss - before.rss;
  assert.ok(grown < 64 * 1024 * 1024, `the owner's RSS grew by ${grown} bytes`);

  watcher.child.kill('SIGCONT');
  const parse = () => watcher.lines.map((line) => JSON.parse(line) as Line);
  await waitFor(
    async () => {
      await echo();
      return parse().some((line) => line.missed > 0);
    },
    15_000,
    'a record with missed',
  );
  // What was dropped since the last report is told with the next record the owner sends: once
  // the owner holds nothing unsent for the monitor, one more call's record carries the rest.
  await waitFor(
    async () => {
      calls++;
      return (await remote.backlog()).bytes === 0;
    },
    15_000,
    'the owner to have sent the monitor all it held',
  );
  await echo();
  // Every call is either seen or counted as missed, none twice.
  await waitFor(
    () => {
      const lines = parse();
      const seen = lines.filter((line) => line.method !== 'ping').length;
      return seen + lines.reduce((sum, line) => sum + line.missed, 0) === calls;
    },
    15_000,
    'seen + missed to add up to the calls made',
  ).catch((error) => {
    const lines = parse().filter((line) => line.method !== 'ping');
    const missed = lines.reduce((sum, line) => sum + line.missed, 0);
    throw new Error(`${error.message}: ${lines.length} seen + ${missed} missed, ${calls} calls`);
  });
  const missed = parse().reduce((sum, line) => sum + line.missed, 0);
  assert.ok(missed > 10_000, `${missed} records missed`);
});
