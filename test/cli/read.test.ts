// runtable ls, inspect and broker status against a live table, and every kind of bad input:
// one line on stderr, the documented exit code, no stack trace unless --debug.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { type CliResult, ensureBuilt, runCli, runCliOnTerminal } from './run-cli.ts';

let dir: string;
let owner: Fixture;
let values: Fixture;

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
  owner = spawnFixture('owner', ['Calc/main', 'Calc/spare'], dir);
  values = spawnFixture('test/cli/values-owner.ts', ['Values/a'], dir);
  await Promise.all([owner.waitForLine(/^ready/), values.waitForLine(/^ready/)]);
});

after(() => cleanup(dir));

/** Exactly one line on stderr, no stack frame in it. */
function assertOneLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

test('ls prints a table of moniker, pid, methods, age and metadata on a terminal', async () => {
  const result = await runCliOnTerminal(['ls'], dir, { NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stderr);
  const [header, ...rows] = result.stdout.trimEnd().split('\n');
  assert.match(header as string, /^MONIKER\s+PID\s+METHODS\s+AGE\s+METADATA$/);
  assert.deepEqual(
    rows.map((row) => row.split(/\s+/)[0]),
    ['Calc/main', 'Calc/spare', 'Values/a'],
  );
  assert.match(
    rows[0] as string,
    new RegExp(`^Calc/main\\s+${owner.pid}\\s+add,calls,count,echo,fail,pid,slow\\s+\\d+s\\s+fixture=owner$`),
  );
  assert.match(rows[2] as string, /role=values port=8080$/);
  assert.ok(!result.stdout.includes('\x1b'), 'no colour under NO_COLOR');
  assert.ok((await runCliOnTerminal(['ls'], dir)).stdout.includes('\x1b[1mMONIKER'), 'colour on a terminal');
});

test('into a pipe, every reading command prints JSON without being asked', async () => {
  const [list, one, status] = await Promise.all([
    runCli(['ls', 'Calc/'], dir),
    runCli(['inspect', 'Calc/main'], dir),
    runCli(['broker', 'status'], dir),
  ]);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { moniker: string }[]).map((entry) => entry.moniker),
    ['Calc/main', 'Calc/spare'],
  );
  assert.equal((JSON.parse(one.stdout) as { pid: number }).pid, owner.pid);
  assert.equal((JSON.parse(status.stdout) as { running: boolean }).running, true);
  const nowhere = path.join(os.tmpdir(), `rt-none-pipe-${process.pid}`);
  const none = await runCli(['broker', 'status'], nowhere);
  assert.equal(none.code, 5);
  assert.deepEqual(JSON.parse(none.stdout), { running: false, dir: nowhere });
});

test('ls [prefix] --json gives every field, dates in ISO 8601', async () => {
  const result = await runCli(['ls', 'Calc/', '--json'], dir);
  assert.equal(result.code, 0, result.stderr);
  const entries = JSON.parse(result.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    entries.map((entry) => entry.moniker),
    ['Calc/main', 'Calc/spare'],
  );
  const first = entries[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(first).sort(), ['changedAt', 'metadata', 'methods', 'moniker', 'pid', 'registeredAt']);
  assert.equal(first.pid, owner.pid);
  assert.deepEqual(first.metadata, { fixture: 'owner' });
  assert.ok((first.methods as string[]).includes('echo'));
  assert.ok(!(first.methods as string[]).includes('_secret'));
  assert.equal(new Date(first.registeredAt as string).toISOString(), first.registeredAt);
});

test('ls --names prints the monikers one a line and nothing else, on a terminal or not', async () => {
  for (const result of [await runCli(['ls', '--names'], dir), await runCliOnTerminal(['ls', '--names'], dir)]) {
    assert.equal(result.code, 0);
    assert.equal(result.stdout, 'Calc/main\nCalc/spare\nValues/a\n');
    assert.equal(result.stderr, '');
  }
  assert.equal((await runCli(['ls', 'Calc/s', '--names'], dir)).stdout, 'Calc/spare\n');
  assert.deepEqual(JSON.parse((await runCli(['ls', 'Calc/', '--names', '--json'], dir)).stdout), [
    'Calc/main',
    'Calc/spare',
  ]);
  const empty = await runCli(['ls', 'Nothing/', '--names'], dir);
  assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, '', '']);
  const nowhere = path.join(os.tmpdir(), `rt-none-names-${process.pid}`);
  const none = await runCli(['ls', '--names'], nowhere);
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', ''], 'no broker: nothing, not even a note');
  const both = await runCli(['ls', '--names', '--stats'], dir);
  assert.equal(both.code, 2);
  assertOneLine(both, /--names lists no statistics: leave out --stats; see runtable ls --help$/);
});

test('ls of an empty prefix, or with no broker at all, exits 0', async () => {
  const empty = await runCliOnTerminal(['ls', 'Nothing/'], dir);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout, 'runtable: nothing is registered under Nothing/\n');
  const piped = await runCli(['ls', 'Nothing/'], dir);
  assert.deepEqual(JSON.parse(piped.stdout), []);
  assert.equal(piped.stderr, '');

  const nowhere = path.join(os.tmpdir(), `rt-none-${process.pid}`);
  const none = await runCli(['ls', '--json'], nowhere);
  assert.equal(none.code, 0);
  assert.deepEqual(JSON.parse(none.stdout), []);
  assertOneLine(none, /no broker running for table .*rt-none-/);
  assert.ok(!fs.existsSync(nowhere), 'looking at a table does not create its directory');
});

test('--dir wins over RUNTABLE_DIR', async () => {
  const result = await runCli(['--dir', dir, 'ls', '--json'], '/nonexistent-runtable-dir');
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as unknown[]).length, 3);
});

test('inspect shows everything the table knows of an entry', async () => {
  const human = await runCliOnTerminal(['inspect', 'Values/a'], dir, { NO_COLOR: '1' });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^moniker:\s+Values\/a$/m);
  assert.match(human.stdout, new RegExp(`^pid:\\s+${values.pid}$`, 'm'));
  assert.match(human.stdout, /^registered:\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s ago\)$/m);
  assert.match(human.stdout, /^changed:\s+\d{4}-\d\d-\d\dT[\d:.]+Z/m);
  assert.match(human.stdout, /^methods:\s+forever, nothing, ticks, touch, values$/m);
  assert.match(human.stdout, /^metadata:\n {2}role: "values"\n {2}port: 8080$/m);

  const json = await runCli(['inspect', 'Values/a', '--json'], dir);
  const entry = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(entry.moniker, 'Values/a');
  assert.equal(entry.pid, values.pid);
  assert.deepEqual(entry.metadata, { role: 'values', port: 8080 });
  assert.deepEqual(entry.methods, ['forever', 'nothing', 'ticks', 'touch', 'values']);
  assert.ok(!Number.isNaN(Date.parse(entry.changedAt as string)));
});

test('inspect of an unknown moniker exits 3 with one line', async () => {
  const result = await runCli(['inspect', 'Calc/none'], dir);
  assert.equal(result.code, 3);
  assert.equal(result.stdout, '');
  assertOneLine(result, /^runtable: NOT_REGISTERED: nothing is registered as Calc\/none; see runtable ls$/);
});

test('broker status gives pid, uptime, entries, connections and the table directory', async () => {
  const json = await runCli(['broker', 'status', '--json'], dir);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(status.running, true);
  assert.equal(status.dir, dir);
  assert.equal(status.entries, 3);
  assert.equal(status.connections, 3, 'two owners and the command itself');
  assert.equal(typeof status.pid, 'number');
  assert.ok((status.uptime as number) > 0);

  const human = await runCliOnTerminal(['broker', 'status'], dir, { NO_COLOR: '1' });
  assert.match(human.stdout, new RegExp(`^pid\\s+${status.pid}$`, 'm'));
  assert.match(human.stdout, /^uptime\s+[\d.]+m?s/m);
  assert.match(human.stdout, /^entries\s+3$/m);
  assert.match(human.stdout, new RegExp(`^table\\s+${dir}$`, 'm'));
});

test('broker status with no broker says so and exits 5', async () => {
  const nowhere = path.join(os.tmpdir(), `rt-none-${process.pid}`);
  const human = await runCliOnTerminal(['broker', 'status'], nowhere);
  assert.equal(human.code, 5);
  assert.match(human.stdout, /^no broker running for table .*rt-none-/);
  const json = await runCli(['broker', 'status', '--json'], nowhere);
  assert.equal(json.code, 5);
  assert.deepEqual(JSON.parse(json.stdout), { running: false, dir: nowhere });
});

test('bad command lines exit 2 with one line and a pointer to help', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['frob'],
      /unknown command "frob"; the commands are ls, watch, monitor, call, wait, inspect, services, broker, ui, demo; see runtable --help$/,
    ],
    [['ls', '--frob'], /unknown option --frob; see runtable ls --help$/],
    [['--frob', 'ls'], /unknown option --frob; see runtable ls --help$/],
    [['ls', '--dir'], /option --dir needs a value/],
    [['ls', '--json=yes'], /option --json takes no value/],
    [['ls', 'a', 'b'], /unexpected argument "b"; see runtable ls --help$/],
    [['inspect'], /missing <moniker>; see runtable inspect --help$/],
    [['call', 'Calc/main'], /missing <method>; see runtable call --help$/],
    [['call', 'Calc/main', 'add', '1', '--timeout', 'soon'], /--timeout must be a whole number of milliseconds/],
    [['broker'], /missing status, start or stop/],
    [['broker', 'restart'], /unknown broker action "restart"/],
    [['broker', 'status', '--idle-ms', '5'], /option --idle-ms does not apply to broker status/],
    [['inspect', ''], /BAD_MONIKER/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, dir)));
  cases.forEach(([args, pattern], i) => {
    const result = results[i] as CliResult;
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '', args.join(' '));
    assertOneLine(result, pattern);
  });
});

test('--help on every command prints its usage, examples and the exit codes', async () => {
  const commands = ['ls', 'watch', 'monitor', 'call', 'wait', 'inspect', 'services', 'broker', 'ui', 'demo'];
  const helps = await Promise.all(commands.map((command) => runCli([command, '--help'], dir)));
  for (const [i, command] of commands.entries()) {
    const result = helps[i] as CliResult;
    assert.equal(result.code, 0, command);
    assert.match(result.stdout, new RegExp(`^Usage: runtable ${command}`), command);
    assert.match(result.stdout, /Examples:/);
    assert.match(result.stdout, /--dir <path>/);
    assert.match(result.stdout, /Exit codes:\n {2}0 /);
  }
  const top = await runCli(['--help'], dir);
  assert.equal(top.code, 0);
  for (const command of commands) assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'));
  assert.deepEqual(
    await runCli(['help', 'ls'], dir).then((r) => r.stdout.split('\n')[0]),
    'Usage: runtable ls [prefix] [--names] [--all] [--stats] [--json]',
  );
  const bare = await runCli([], dir);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^runtable: a running object table/);
  assert.match((await runCli(['--version'], dir)).stdout, /^\d+\.\d+\.\d+\n$/);
});

test('a table that cannot be used exits 5 with one line naming the fix', async () => {
  const open = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-open-'));
  const file = path.join(open, 'not-a-dir');
  try {
    fs.chmodSync(open, 0o777);
    const loose = await runCli(['ls'], open);
    assert.equal(loose.code, 5);
    assertOneLine(
      loose,
      /^runtable: ACCESS_DENIED: table directory .* is open to other users \(mode 0777\) and holds no table; choose a directory of your own/,
    );
    fs.writeFileSync(path.join(open, 'token'), 'x');
    assertOneLine(await runCli(['ls'], open), /is open to other users \(mode 0777\); run chmod 700 /);
    fs.rmSync(path.join(open, 'token'));

    fs.writeFileSync(file, '');
    const notDir = await runCli(['call', 'A/b', 'echo', '--dir', file], dir);
    assert.equal(notDir.code, 5);
    assertOneLine(notDir, /^runtable: (ACCESS_DENIED|TABLE_UNAVAILABLE): .*table directory .*not-a-dir/);

    const debug = await runCli(['ls', '--debug'], open);
    assert.equal(debug.code, 5);
    assert.match(debug.stderr, /\n\s+at /, '--debug shows the stack');
  } finally {
    fs.rmSync(open, { recursive: true, force: true });
  }
});
