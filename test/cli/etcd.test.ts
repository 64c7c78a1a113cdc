// The runtable command on a table on etcd (a private etcd server, an owner process registered
// on it): ls, inspect, call, watch, wait and monitor give what they give on a local table, with
// the owner's statistics; --table beats RUNTABLE_TABLE, --dir beats RUNTABLE_TABLE; the commands
// about a local broker are refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdCluster, etcdTable, freePort } from '../etcd-server.ts';
import { brokerPids, cleanup, type Fixture, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { type CliResult, ensureBuilt, runCli, runCliOnTerminal, startCli } from './run-cli.ts';

let cluster: EtcdCluster;
let dir: string;
let owner: Fixture;
/** What every process of the test's table on etcd runs with, RUNTABLE_TABLE included. */
let env: NodeJS.ProcessEnv;
/** The same, but the table named only by --table. */
let withoutTable: NodeJS.ProcessEnv;

before(async () => {
  await ensureBuilt();
  cluster = await EtcdCluster.start(1);
  dir = tempTableDir();
  env = etcdTable(cluster.address, '127.0.0.2').env;
  withoutTable = { ...env, RUNTABLE_TABLE: '' };
  owner = spawnFixture('owner', ['Calc/main'], dir, env);
  await owner.waitForLine(/^ready/);
});

after(async () => {
  await cleanup(dir);
  await cluster.stop();
});

/** Exactly one line on stderr, no stack frame in it. */
function assertOneLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

test('ls on a terminal lists the entry on etcd as it lists a local one', async () => {
  const result = await runCliOnTerminal(['ls'], dir, { ...env, NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stdout);
  const [header, ...rows] = result.stdout.trimEnd().split('\n');
  assert.match(header as string, /^MONIKER\s+PID\s+METHODS\s+AGE\s+METADATA$/);
  assert.equal(rows.length, 1, result.stdout);
  assert.match(
    rows[0] as string,
    new RegExp(`^Calc/main\\s+${owner.pid}\\s+add,calls,count,echo,fail,pid,slow\\s+\\d+s\\s+fixture=owner$`),
  );
  assert.deepEqual(brokerPids(dir), [], 'no local broker started');
});

test('ls --names lists the monikers on etcd, one a line', async () => {
  const result = await runCli(['ls', '--names'], dir, env);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'Calc/main\n');
  assert.equal((await runCli(['ls', 'Nothing/', '--names'], dir, env)).stdout, '');
});

test('ls --json with --table gives every field; --table beats RUNTABLE_TABLE', async () => {
  const nowhere = `etcd://127.0.0.1:${await freePort()}`;
  for (const runEnv of [withoutTable, { ...env, RUNTABLE_TABLE: nowhere }]) {
    const result = await runCli(['ls', 'Calc/', '--table', cluster.address, '--json'], dir, runEnv);
    assert.equal(result.code, 0, result.stderr);
    const entries = JSON.parse(result.stdout) as Record<string, unknown>[];
    assert.equal(entries.length, 1);
    const entry = entries[0] as Record<string, unknown>;
    assert.deepEqual(Object.keys(entry).sort(), ['changedAt', 'metadata', 'methods', 'moniker', 'pid', 'registeredAt']);
    assert.equal(entry.moniker, 'Calc/main');
    assert.equal(entry.pid, owner.pid);
    assert.deepEqual(entry.metadata, { fixture: 'owner' });
    assert.ok(!Number.isNaN(Date.parse(entry.registeredAt as string)));
  }
  // And the other way round: RUNTABLE_TABLE alone is the table, so etcd that is not there fails.
  const down = await runCli(['ls'], dir, { ...env, RUNTABLE_TABLE: nowhere });
  assert.equal(down.code, 5, down.stderr);
  assertOneLine(down, /TABLE_UNAVAILABLE: etcd at etcd:\/\/127\.0\.0\.1:\d+ failed/);
});

test('--dir beats RUNTABLE_TABLE: the local table, which has no broker here, lists nothing', async () => {
  const local = tempTableDir();
  try {
    const result = await runCli(['ls', '--dir', local], dir, env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '[]');
    assert.match(result.stderr, new RegExp(`no broker running for table ${local}`));
    const both = await runCli(['ls', '--dir', local, '--table', cluster.address], dir, env);
    assert.equal(both.code, 2);
    assertOneLine(both, /--table and --dir name two different tables/);
  } finally {
    fs.rmSync(local, { recursive: true, force: true });
  }
});

test('a --table or RUNTABLE_TABLE that is not an etcd address is a usage error', async () => {
  const option = await runCli(['ls', '--table', 'localhost:2379'], dir, withoutTable);
  assert.equal(option.code, 2);
  assertOneLine(option, /--table must be etcd:\/\/host:port.*not "localhost:2379"; see runtable ls --help/);
  const fromEnv = await runCli(['ls'], dir, { ...env, RUNTABLE_TABLE: 'http://x' });
  assert.equal(fromEnv.code, 2);
  assertOneLine(fromEnv, /RUNTABLE_TABLE must be etcd:\/\/host:port/);
});

test('inspect shows the entry on etcd, on a terminal and as JSON; an unknown moniker exits 3', async () => {
  const human = await runCliOnTerminal(['inspect', 'Calc/main'], dir, { ...env, NO_COLOR: '1' });
  assert.equal(human.code, 0, human.stdout);
  assert.match(human.stdout, /^moniker: {6}Calc\/main$/m);
  assert.match(human.stdout, new RegExp(`^pid: {10}${owner.pid}$`, 'm'));
  assert.match(human.stdout, /^methods: {6}add, calls, count, echo, fail, pid, slow$/m);
  assert.match(human.stdout, /^ {2}fixture: "owner"$/m);
  const json = await runCli(['inspect', 'Calc/main', '--json'], dir, env);
  assert.equal(json.code, 0, json.stderr);
  const entry = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(entry.pid, owner.pid);
  assert.deepEqual(entry.waiting, []);
  const missing = await runCli(['inspect', 'Calc/nobody'], dir, env);
  assert.equal(missing.code, 3);
  assertOneLine(missing, /NOT_REGISTERED: nothing is registered as Calc\/nobody/);
});

test('inspect names the standby waiting in line on etcd, as it does on a local table', async () => {
  const standby = spawnFixture('standby', ['Calc/main'], dir, env);
  try {
    await standby.waitForLine(/^waiting/);
    const inLine = await waitFor(
      async () => {
        const result = await runCli(['inspect', 'Calc/main', '--json'], dir, env);
        const waiting = (JSON.parse(result.stdout) as { waiting: number[] }).waiting;
        return waiting.length > 0 && waiting;
      },
      20_000,
      'the standby in line',
    );
    assert.deepEqual(inLine, [standby.pid]);
    const human = await runCliOnTerminal(['inspect', 'Calc/main'], dir, { ...env, NO_COLOR: '1' });
    assert.match(human.stdout, new RegExp(`^waiting: {6}pid ${standby.pid}$`, 'm'));
  } finally {
    standby.child.kill('SIGTERM');
    await standby.exited;
  }
});

test('call reaches the owner over TCP: results, a remote error, an unknown method', async () => {
  const sum = await runCli(['call', 'Calc/main', 'add', '2', '3'], dir, env);
  assert.equal(sum.code, 0, sum.stderr);
  assert.equal(sum.stdout, '5\n');
  const pid = await runCli(['call', 'Calc/main', 'pid', '--table', cluster.address], dir, withoutTable);
  assert.equal(pid.stdout, `${owner.pid}\n`);
  const onTerminal = await runCliOnTerminal(['call', 'Calc/main', 'echo', '{"a":"x"}'], dir, { ...env, NO_COLOR: '1' });
  assert.equal(onTerminal.code, 0, onTerminal.stdout);
  assert.equal(onTerminal.stdout, "{ a: 'x' }\n");
  const thrown = await runCli(['call', 'Calc/main', 'fail', 'broken', 'E_BROKEN'], dir, env);
  assert.equal(thrown.code, 1);
  assertOneLine(thrown, /REMOTE: TypeError: broken \(code E_BROKEN\)/);
  const noMethod = await runCli(['call', 'Calc/main', 'nope'], dir, env);
  assert.equal(noMethod.code, 3);
  assertOneLine(noMethod, /NO_SUCH_METHOD: Calc\/main has no method "nope"/);
  const nobody = await runCli(['call', 'Calc/nobody', 'add'], dir, env);
  assert.equal(nobody.code, 3);
  assertOneLine(nobody, /NOT_REGISTERED/);
  assert.deepEqual(brokerPids(dir), [], 'no local broker started');
});

test('watch prints the entries on etcd, then each registration and revocation; SIGINT exits 0', async () => {
  const watch = startCli(['watch', 'Calc/', '--json'], dir, env);
  try {
    const [first] = await watch.lines(1);
    const now = JSON.parse(first as string) as { type: string; entry: { moniker: string; pid: number } };
    assert.equal(now.type, 'registered');
    assert.deepEqual([now.entry.moniker, now.entry.pid], ['Calc/main', owner.pid]);
    const late = spawnFixture('owner', ['Calc/late'], dir, env);
    await late.waitForLine(/^ready/);
    const [, registered] = await watch.lines(2);
    assert.deepEqual(
      [JSON.parse(registered as string).type, JSON.parse(registered as string).entry.pid],
      ['registered', late.pid],
    );
    late.child.kill('SIGTERM');
    const [, , revoked] = await watch.lines(3);
    const event = JSON.parse(revoked as string) as { type: string; entry: { moniker: string } };
    assert.deepEqual([event.type, event.entry.moniker], ['revoked', 'Calc/late']);
  } finally {
    watch.child.kill('SIGINT');
  }
  const result = await watch.result;
  assert.equal(result.code, 0, result.stderr);
});

test('wait returns once an owner on etcd registers the moniker; a timeout exits 4', async () => {
  const waiting = startCli(['wait', 'Later/x', '--timeout', '30000'], dir, env);
  const starter = spawnFixture('owner', ['Later/x'], dir, env);
  const result = await waiting.result;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).pid, starter.pid);
  starter.child.kill('SIGTERM');
  await starter.exited;
  const timedOut = await runCli(['wait', 'Never/x', '--timeout', '300'], dir, env);
  assert.equal(timedOut.code, 4);
  assertOneLine(timedOut, /TIMEOUT/);
});

test('broker, services and ls --all, which are about a local broker, are refused on etcd (exit 2)', async () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['broker', 'status'], env, /the broker command works only on a local table \(a table on etcd has no broker/],
    [['broker', 'start'], env, /works only on a local table.*unset RUNTABLE_TABLE or give --dir for the local table/],
    [['broker', 'stop'], env, /\(from RUNTABLE_TABLE\) is a table on etcd/],
    [['services'], env, /the services command works only on a local table \(a table on etcd starts no services/],
    [['ls', '--all'], env, /--all works only on a local table \(a table on etcd starts no services\)/],
    [
      ['broker', 'status', '--table', cluster.address],
      withoutTable,
      /\(from --table\) is a table on etcd; drop --table/,
    ],
  ];
  for (const [args, runEnv, pattern] of cases) {
    const result = await runCli(args, dir, runEnv);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assertOneLine(result, pattern);
    assert.equal(result.stdout, '');
  }
  assert.deepEqual(brokerPids(dir), [], 'no local broker started');
});

test('monitor --json --table sees a call made with runtable call on etcd; SIGINT exits 0', async () => {
  const monitor = startCli(['monitor', 'Calc/', '--json', '--table', cluster.address], dir, withoutTable);
  const callers: number[] = [];
  try {
    // The monitor attaches to the owner at its own pace: call until it has seen one.
    await waitFor(
      async () => {
        const call = startCli(['call', 'Calc/main', 'echo', '"seen"', '--table', cluster.address], dir, withoutTable);
        callers.push(call.child.pid as number);
        const result = await call.result;
        assert.equal(result.code, 0, result.stderr);
        return /"method":"echo"/.test(monitor.output());
      },
      20_000,
      'the call in the monitor',
    );
  } finally {
    monitor.child.kill('SIGINT');
  }
  const result = await monitor.result;
  assert.equal(result.code, 0, result.stderr);
  const records = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const echo = records.find((record) => record.method === 'echo');
  assert.ok(echo, result.stdout);
  assert.deepEqual([echo.moniker, echo.ownerPid, echo.outcome], ['Calc/main', owner.pid, 'ok']);
  assert.ok(callers.includes(echo.callerPid as number), `caller ${echo.callerPid} is one of ${callers}`);
  assert.deepEqual(brokerPids(dir), [], 'no local broker started');
});

test("inspect and ls --stats on etcd show the owner's statistics of a known sequence of calls", async () => {
  const counted = spawnFixture('owner', ['Counted/e'], dir, env);
  try {
    await counted.waitForLine(/^ready/);
    for (const args of [
      ['echo', '1'],
      ['echo', '2'],
      ['fail', 'no'],
    ]) {
      await runCli(['call', 'Counted/e', ...args], dir, env);
    }
    const inspected = await runCli(['inspect', 'Counted/e', '--json'], dir, env);
    assert.equal(inspected.code, 0, inspected.stderr);
    const { stats } = JSON.parse(inspected.stdout) as {
      stats: {
        total: { calls: number; errors: number; outcomes: Record<string, number> };
        methods: Record<string, { calls: number }>;
      };
    };
    assert.deepEqual(
      { calls: stats.total.calls, errors: stats.total.errors, outcomes: stats.total.outcomes },
      { calls: 3, errors: 1, outcomes: { ok: 2, REMOTE: 1 } },
    );
    assert.equal(stats.methods.echo?.calls, 2);
    const human = await runCliOnTerminal(['inspect', 'Counted/e'], dir, { ...env, NO_COLOR: '1' });
    assert.match(human.stdout, /^\s*echo\s+2\s+0\s/m);
    const listed = await runCli(['ls', '--stats', 'Counted/', '--table', cluster.address], dir, withoutTable);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { moniker: string; pid: number; stats: Record<string, unknown> | null }[];
    assert.deepEqual(
      rows.map((row) => [row.moniker, row.pid, row.stats?.calls, row.stats?.errors]),
      [['Counted/e', counted.pid, 3, 1]],
    );
  } finally {
    counted.child.kill('SIGTERM');
    await counted.exited;
  }
});
