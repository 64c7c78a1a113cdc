// runtable monitor: a line per call on a terminal, NDJSON into a pipe or with --json, filters
// by method and outcome, and Ctrl-C (SIGINT) ends it with exit 0.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type Table } from 'runtable';
import { cleanup, type Fixture, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { ensureBuilt, type RunningCli, startCli } from './run-cli.ts';

let dir: string;
let owner: Fixture;
let table: Table;

type Service = { ping(): string; fail(message: string): void };

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
  owner = spawnFixture('monitored', ['Cli/a', 'Elsewhere/b'], dir);
  await owner.waitForLine(/^ready/);
  table = await connect({ dir });
});

after(async () => {
  await table.close();
  await cleanup(dir);
});

/** Makes `call` until the monitor's output matches `pattern` (it attaches at its own pace). */
async function until(cli: RunningCli, pattern: RegExp, call: () => Promise<unknown>): Promise<void> {
  await waitFor(
    async () => {
      await call().catch(() => {});
      return pattern.test(cli.output());
    },
    15_000,
    `${pattern} in ${JSON.stringify(cli.output())}`,
  );
}

test('on a terminal, one line per call: time, caller → owner, moniker.method, outcome, ms, sizes; SIGINT exits 0', async () => {
  const cli = startCli(['monitor', 'Cli/'], dir, { NO_COLOR: '1' }, { terminal: true });
  const remote = await table.get<Service>('Cli/a');
  const elsewhere = await table.get<Service>('Elsewhere/b');
  await until(cli, /Cli\/a\.ping/, () => remote.ping());
  await until(cli, /Cli\/a\.fail/, async () => {
    await elsewhere.ping();
    await remote.fail('no luck');
  });
  cli.child.kill('SIGINT');
  const result = await cli.result;
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  const ping = lines.find((line) => line.includes('Cli/a.ping'));
  const fail = lines.find((line) => line.includes('Cli/a.fail'));
  const pids = `${process.pid} → ${owner.pid}`;
  assert.match(
    ping ?? '',
    new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  ${pids} +Cli/a\\.ping +ok +\\d+\\.\\d+ ms  \\d+ B → \\d+ B$`),
  );
  assert.match(fail ?? '', new RegExp(`${pids} +Cli/a\\.fail +REMOTE +\\d+\\.\\d+ ms`));
  assert.ok(!result.stdout.includes('Elsewhere/'), 'the prefix filters');
  assert.ok(!/'no luck'/.test(result.stdout), 'no values without --values');
});

test('--json gives NDJSON, --method and --errors filter, --values adds the arguments', async () => {
  const cli = startCli(['monitor', '--json', '--errors', '--method', 'fail', '--values'], dir);
  const remote = await table.get<Service>('Cli/a');
  await until(cli, /"method":"fail"/, async () => {
    await remote.ping();
    await remote.fail('no luck');
  });
  cli.child.kill('SIGINT');
  const result = await cli.result;
  assert.equal(result.code, 0, result.stderr);
  const records = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(records.length >= 1);
  for (const record of records) {
    assert.equal(record.method, 'fail');
    assert.equal(record.moniker, 'Cli/a');
    assert.equal(record.outcome, 'REMOTE');
    assert.equal(record.ownerPid, owner.pid);
    assert.equal(record.callerPid, process.pid);
    assert.equal(record.args, "'no luck'");
    assert.equal(record.result, 'RangeError: no luck');
    assert.equal(typeof record.ms, 'number');
    assert.ok(!Number.isNaN(Date.parse(record.time as string)));
  }
});
