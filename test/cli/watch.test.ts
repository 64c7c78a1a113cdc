// runtable watch: the entries now, then each change as it happens, NDJSON with --json; it waits
// for a broker when none runs, and Ctrl-C or SIGTERM end it with exit 0.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { ensureBuilt, runCli, startCli } from './run-cli.ts';

interface WatchLine {
  time: string;
  type: string;
  entry: { moniker: string; pid: number; metadata: Record<string, unknown>; registeredAt: string; changedAt: string };
}

let dir: string;
let values: Fixture;

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
});

after(() => cleanup(dir));

test('with no broker, watch waits for one and then shows what registers, NDJSON into a pipe', async () => {
  const watching = startCli(['watch'], dir);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(watching.output(), '');
  values = spawnFixture('test/cli/values-owner.ts', ['W/values'], dir);
  const [line] = await watching.lines(1);
  const event = JSON.parse(line as string) as WatchLine;
  assert.equal(event.type, 'registered');
  assert.equal(event.entry.moniker, 'W/values');
  assert.equal(event.entry.pid, values.pid);
  watching.child.kill('SIGINT');
  const result = await watching.result;
  assert.equal(result.code, 0);
  assert.match(result.stderr, /^runtable: no broker running for table .*; waiting for one \(Ctrl-C to stop\)\n$/);
});

test('watch --json prints registered, changed and revoked as they happen; SIGINT exits 0', async () => {
  await values.waitForLine(/^ready/);
  const watching = startCli(['watch', 'W/', '--json'], dir);
  const parse = (lines: string[]) => lines.map((line) => JSON.parse(line) as WatchLine);
  assert.deepEqual(
    parse(await watching.lines(1)).map((e) => [e.type, e.entry.moniker]),
    [['registered', 'W/values']],
  );

  const other = spawnFixture('owner', ['W/other', 'Elsewhere/x'], dir);
  let events = parse(await watching.lines(2));
  assert.deepEqual(
    [events[1]?.type, events[1]?.entry.moniker, events[1]?.entry.pid],
    ['registered', 'W/other', other.pid],
  );

  assert.equal((await runCli(['call', 'W/values', 'touch', 'noted'], dir)).code, 0);
  events = parse(await watching.lines(3));
  assert.equal(events[2]?.type, 'changed');
  assert.deepEqual(events[2]?.entry.metadata, { note: 'noted' });

  other.child.kill('SIGKILL');
  events = parse(await watching.lines(4));
  assert.deepEqual([events[3]?.type, events[3]?.entry.moniker], ['revoked', 'W/other']);
  assert.ok(!events.some((e) => e.entry.moniker === 'Elsewhere/x'), 'only the prefix');
  for (const event of events) assert.ok(Math.abs(Date.parse(event.time) - Date.now()) < 60_000);

  watching.child.kill('SIGINT');
  const result = await watching.result;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('watch prints one timed line per event on a terminal; SIGTERM exits 0', async () => {
  const watching = startCli(['watch'], dir, { NO_COLOR: '1' }, { terminal: true });
  const [line] = await watching.lines(1);
  assert.match(
    line as string,
    new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  registered  W/values  pid ${values.pid}  note=noted$`),
  );
  watching.child.kill('SIGTERM');
  const result = await watching.result;
  assert.equal(result.code, 0, result.stderr);
});
