// runtable inspect and ls --stats show the call statistics an owner process kept: a known sequence
// of calls made from this process, then the figures on a terminal and as JSON.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type Table } from 'runtable';
import { cleanup, code, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { ensureBuilt, runCli, runCliOnTerminal } from './run-cli.ts';

let dir: string;
let owner: Fixture;
let table: Table;

interface Service {
  echo(value: unknown): unknown;
  fail(message: string): never;
  missing(): void;
}

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
  owner = spawnFixture('owner', ['Counted/main', 'Counted/idle'], dir);
  await owner.waitForLine(/^ready/);
  table = await connect({ dir });
  const server = await table.get<Service>('Counted/main');
  for (let i = 0; i < 7; i++) await server.echo(i);
  for (let i = 0; i < 2; i++) await assert.rejects(server.fail('no'), code('REMOTE'));
  await assert.rejects(server.missing(), code('NO_SUCH_METHOD'));
});

after(async () => {
  await table?.close();
  await cleanup(dir);
});

test('inspect shows a table of methods with calls, errors and percentiles', async () => {
  const result = await runCliOnTerminal(['inspect', 'Counted/main'], dir, { NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /^calls:\s+10 since \d{4}-\d\d-\d\dT[\d:.]+Z \(3 errors: NO_SUCH_METHOD 1, REMOTE 2\)$/m);
  const lines = result.stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('METHOD'));
  assert.match(lines[header] as string, /^METHOD\s+CALLS\s+ERRORS\s+P50\s+P90\s+P99\s+MAX\s+ERROR CODES$/);
  const rows = new Map(
    lines
      .slice(header + 1)
      .filter(Boolean)
      .map((line) => {
        const [name, ...cells] = line.trim().split(/\s+/);
        return [name, cells];
      }),
  );
  assert.deepEqual([...rows.keys()], ['add', 'calls', 'count', 'echo', 'fail', 'pid', 'slow', '(all)']);
  const duration = /^\d+(\.\d)?(µs|ms|s)$/;
  const echo = rows.get('echo') ?? [];
  assert.deepEqual(echo.slice(0, 2), ['7', '0']);
  for (const cell of echo.slice(2, 6)) assert.match(cell, duration);
  assert.deepEqual(rows.get('fail')?.slice(0, 2), ['2', '2']);
  assert.deepEqual(rows.get('fail')?.slice(6), ['REMOTE', '2']);
  assert.deepEqual(rows.get('add'), ['0', '0', '-', '-', '-', '-'], 'a method never called');
  assert.deepEqual(rows.get('(all)')?.slice(0, 2), ['10', '3']);
  assert.deepEqual(rows.get('(all)')?.slice(6), ['NO_SUCH_METHOD', '1,', 'REMOTE', '2']);
});

test('inspect --json carries the same figures', async () => {
  const result = await runCli(['inspect', 'Counted/main', '--json'], dir);
  assert.equal(result.code, 0, result.stderr);
  const { stats } = JSON.parse(result.stdout) as {
    stats: {
      since: string;
      total: Record<string, unknown>;
      methods: Record<string, { calls: number; errors: number; p99: number; since: string }>;
    };
  };
  assert.ok(!Number.isNaN(Date.parse(stats.since)));
  assert.deepEqual(
    { calls: stats.total.calls, errors: stats.total.errors, outcomes: stats.total.outcomes },
    { calls: 10, errors: 3, outcomes: { ok: 7, REMOTE: 2, NO_SUCH_METHOD: 1 } },
  );
  assert.equal(stats.methods.echo?.calls, 7);
  assert.equal(stats.methods.echo?.since, stats.since);
  assert.equal(typeof stats.methods.echo?.p99, 'number');
  assert.equal(stats.methods.fail?.errors, 2);
});

test('ls --stats adds each entry summed calls, errors and p99', async () => {
  const result = await runCliOnTerminal(['ls', '--stats', 'Counted/'], dir, { NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stdout);
  const [header, ...rows] = result.stdout.trimEnd().split('\n');
  assert.match(header as string, /^MONIKER\s+PID\s+METHODS\s+AGE\s+CALLS\s+ERRORS\s+P99\s+METADATA$/);
  const cells = rows.map((row) => row.split(/\s+/));
  assert.deepEqual(
    cells.map((row) => [row[0], row[1], row[4], row[5]]),
    [
      ['Counted/idle', String(owner.pid), '0', '0'],
      ['Counted/main', String(owner.pid), '10', '3'],
    ],
  );
  assert.equal(cells[0]?.[6], '-', 'no p99 without calls');
  assert.match(cells[1]?.[6] as string, /^\d+(\.\d)?(µs|ms|s)$/);
  // Without --stats, no such columns.
  const plain = await runCliOnTerminal(['ls', 'Counted/'], dir, { NO_COLOR: '1' });
  assert.doesNotMatch(plain.stdout, /CALLS/);
});

test('ls --stats into a pipe is JSON with each entry totals', async () => {
  const result = await runCli(['ls', '--stats', 'Counted/'], dir);
  assert.equal(result.code, 0, result.stderr);
  const rows = JSON.parse(result.stdout) as { moniker: string; stats: Record<string, unknown> | null }[];
  assert.deepEqual(
    rows.map((row) => [row.moniker, row.stats?.calls, row.stats?.errors, row.stats?.outcomes]),
    [
      ['Counted/idle', 0, 0, {}],
      ['Counted/main', 10, 3, { ok: 7, REMOTE: 2, NO_SUCH_METHOD: 1 }],
    ],
  );
  const plain = JSON.parse((await runCli(['ls', 'Counted/'], dir)).stdout) as Record<string, unknown>[];
  assert.ok(!('stats' in (plain[0] ?? {})), 'no stats field without --stats');
});
