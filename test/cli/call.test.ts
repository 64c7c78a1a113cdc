// runtable call against real owners: arguments as JSON or bare words, results as JSON for a pipe,
// streams item by item, and each failure as one line with its documented exit code.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { CLI, type CliResult, ensureBuilt, runCli, startCli } from './run-cli.ts';

let dir: string;
let owner: Fixture;

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
  owner = spawnFixture('owner', ['Calc/main'], dir);
  const values = spawnFixture('test/cli/values-owner.ts', ['Values/a'], dir);
  await Promise.all([owner.waitForLine(/^ready/), values.waitForLine(/^ready/)]);
});

after(() => cleanup(dir));

function assertFailure(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${result.stderr}`);
  assert.match(lines[0] as string, pattern);
}

test('arguments are JSON, a bare word is a string, and the result is JSON on a pipe', async () => {
  const object = { a: [1, 'two', { b: null }], c: 'x y' };
  const cases: [string[], string][] = [
    [['add', '2', '3'], '5'],
    [['add', '-1', '-2.5'], '-3.5'],
    [['echo', 'hello'], '"hello"'],
    [['echo', '1.2.3'], '"1.2.3"'],
    [['echo', '"42"'], '"42"'],
    [['echo', 'true'], 'true'],
    [['echo', JSON.stringify(object)], JSON.stringify(object)],
    [['pid'], String(owner.pid)],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(['call', 'Calc/main', ...args], dir)));
  cases.forEach(([args, expected], i) => {
    const result = results[i] as CliResult;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${expected}\n`, args.join(' '));
  });
});

test('values JSON lacks get a fixed JSON form', async () => {
  const result = await runCli(['call', 'Values/a', 'values'], dir);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    when: '2024-01-02T03:04:05.678Z',
    big: (2n ** 70n).toString(),
    bytes: Buffer.from('hi').toString('base64'),
    map: { k: 1 },
    set: ['a', 'b'],
    list: [1, 'two', null],
  });
  assert.equal((await runCli(['call', 'Values/a', 'nothing'], dir)).stdout, 'null\n');
});

test('a streaming method prints each item on its own line as it arrives', async () => {
  const running = startCli(['call', 'Values/a', 'ticks', '3', '300'], dir);
  // The first item is out while the owner is still producing the rest.
  const [first] = await running.lines(1, 5000);
  assert.deepEqual(JSON.parse(first as string), { i: 0 });
  assert.equal(running.child.exitCode, null, 'still running after the first item');
  const result = await running.result;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line)),
    [{ i: 0 }, { i: 1 }, { i: 2 }],
  );
});

test('Ctrl-C stops a stream and the command exits 130', async () => {
  const running = startCli(['call', 'Values/a', 'forever'], dir);
  await running.lines(3, 5000);
  running.child.kill('SIGINT');
  const result = await running.result;
  assert.equal(result.code, 130, result.stderr);
  assert.equal(result.stderr, '');
});

test('a remote error exits 1 with its name, message and code on one line', async () => {
  const result = await runCli(['call', 'Calc/main', 'fail', 'boom', 'E_BOOM'], dir);
  assertFailure(result, 1, /^runtable: REMOTE: TypeError: boom \(code E_BOOM\)$/);
  const debug = await runCli(['call', 'Calc/main', 'fail', 'boom', '--debug'], dir);
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /^runtable: REMOTE: TypeError: boom\n/);
  assert.match(debug.stderr, /\n\s+at /, 'with --debug, the stack');
  assert.match(debug.stderr, /the inner reason/, 'with --debug, the cause');
});

test('--timeout gives up and exits 4', async () => {
  const started = Date.now();
  const result = await runCli(['call', 'Calc/main', 'slow', '5000', '--timeout', '200'], dir);
  assertFailure(result, 4, /^runtable: TIMEOUT: .*200 ms/);
  assert.ok(Date.now() - started < 4000);
  assert.equal((await runCli(['call', 'Calc/main', 'slow', '10', '--timeout=2000'], dir)).stdout, '10\n');
});

test('not registered, no such method, bad JSON and a bad moniker each get their exit code', async () => {
  assertFailure(
    await runCli(['call', 'Calc/none', 'echo', '1'], dir),
    3,
    /^runtable: NOT_REGISTERED: nothing is registered as Calc\/none; see runtable ls$/,
  );
  assertFailure(
    await runCli(['call', 'Calc/main', 'nope'], dir),
    3,
    /^runtable: NO_SUCH_METHOD: Calc\/main has no method "nope"; its methods: add, calls, count, echo, fail, pid, slow$/,
  );
  assertFailure(await runCli(['call', 'Calc/main', '_secret'], dir), 3, /NO_SUCH_METHOD/);
  assertFailure(
    await runCli(['call', 'Calc/main', 'echo', '{"a":'], dir),
    2,
    /^runtable: argument 1 \(\{"a":\) is not valid JSON: .*; see runtable call --help$/,
  );
  assertFailure(await runCli(['call', 'Calc/main', 'echo', '[1,'], dir), 2, /argument 1 .* is not valid JSON/);
  assertFailure(await runCli(['call', 'bad\u0001name', 'echo'], dir), 2, /^runtable: BAD_MONIKER: /);
});

test('with no broker running, call says not registered and starts nothing', async () => {
  const empty = tempTableDir();
  try {
    assertFailure(
      await runCli(['call', 'Calc/main', 'add', '1', '2'], empty),
      3,
      /^runtable: NOT_REGISTERED: nothing is registered as Calc\/main \(no broker running for table .*\); see runtable ls$/,
    );
    assertFailure(await runCli(['inspect', 'Calc/main'], empty), 3, /NOT_REGISTERED.*no broker running/);
    assert.equal((await runCli(['broker', 'status'], empty)).code, 5, 'no broker was started');
  } finally {
    // Not cleanup(): that would kill this file's owners too.
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

const ESC = '\x1b';

/** Runs the command on a pseudo-terminal through util-linux script(1) (Debian's bsdutils). */
function onTerminal(args: string[], env: Record<string, string>): string {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('this test needs script(1) to make a terminal: apt-get install -y bsdutils');
  }
  const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
  return execFileSync('script', ['-qec', quoted, '/dev/null'], {
    env: { ...process.env, RUNTABLE_DIR: dir, TERM: 'xterm', ...env },
    encoding: 'utf8',
  }).replaceAll('\r\n', '\n');
}

test('on a terminal the result is rendered for a person, in colour unless NO_COLOR', () => {
  const coloured = onTerminal(['call', 'Calc/main', 'echo', '{"a":"x"}'], { NO_COLOR: '' });
  assert.ok(coloured.includes(`{ a: ${ESC}[32m'x'${ESC}[39m }`), coloured);
  const plain = onTerminal(['call', 'Calc/main', 'echo', '{"a":"x"}'], { NO_COLOR: '1' });
  assert.equal(plain, "{ a: 'x' }\n");
  const json = onTerminal(['call', 'Calc/main', 'echo', '{"a":"x"}', '--json'], { NO_COLOR: '1' });
  assert.deepEqual(JSON.parse(json), { a: 'x' });
  const table = onTerminal(['ls'], { NO_COLOR: '' });
  assert.ok(table.includes(`${ESC}[1mMONIKER`), table);
  assert.ok(!onTerminal(['ls'], { NO_COLOR: '1' }).includes(ESC));
});
