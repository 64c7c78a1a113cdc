// runtable wait, services, ls --all, inspect's line of standbys, and call of a moniker that only
// a service file names, against real processes; each test with its own table and services.
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, before, beforeEach, test } from 'node:test';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { activatedCommand, servicesDir, startsOf, writeService } from '../naming/services.ts';
import { ensureBuilt, runCli, runCliOnTerminal } from './run-cli.ts';

let dir: string;
let services: ReturnType<typeof servicesDir>;
let env: NodeJS.ProcessEnv;

before(ensureBuilt);

beforeEach(() => {
  dir = tempTableDir();
  services = servicesDir();
  env = { RUNTABLE_SERVICES: services.dir };
});

afterEach(async () => {
  for (const pid of startsOf(services.starts)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await cleanup(dir);
  services.remove();
});

test('wait exits 0 once the moniker is registered, and 4 when the timeout passes first', async () => {
  const timedOut = await runCli(['wait', 'Cli/wait', '--timeout', '300'], dir, env);
  assert.equal(timedOut.code, 4, timedOut.stderr);
  assert.match(timedOut.stderr, /^runtable: TIMEOUT: Cli\/wait was not registered within 300 ms\n$/);

  const waiting = runCliOnTerminal(['wait', 'Cli/wait', '--timeout', '30000'], dir, { ...env, NO_COLOR: '1' });
  const owner = spawnFixture('owner', ['Cli/wait'], dir);
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.stdout, `Cli/wait registered by pid ${owner.pid}\n`);
});

test('call of a moniker only a service file names starts broker and service, then calls it', async () => {
  writeService(services.dir, 'hello', {
    monikers: ['Cli/hello'],
    command: activatedCommand([services.starts, 'register', 'Cli/hello']),
  });
  const result = await runCli(['call', 'Cli/hello', 'hello', 'shell'], dir, env);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '"hello shell"\n');
  assert.equal(startsOf(services.starts).length, 1);
});

test('services lists each file with its state or its problem; ls --all shows what would start', async () => {
  const good = writeService(services.dir, 'good', {
    monikers: ['Cli/good', 'Cli/other'],
    command: activatedCommand([services.starts, 'register', 'Cli/good']),
  });
  const bad = writeService(services.dir, 'bad', { monikers: ['Cli/bad'], command: ['./daemon'] });

  const idle = await runCli(['services', '--json'], dir, env);
  assert.equal(idle.code, 0, idle.stderr);
  const infos = JSON.parse(idle.stdout) as { file: string; monikers: string[]; problem?: string; pid?: number }[];
  assert.deepEqual(
    infos.map((info) => [path.basename(info.file), info.monikers, info.pid]),
    [
      ['bad.json', ['Cli/bad'], undefined],
      ['good.json', ['Cli/good', 'Cli/other'], undefined],
    ],
  );
  assert.match(infos[0]?.problem ?? '', /relative path \.\/daemon/);

  const all = await runCliOnTerminal(['ls', '--all'], dir, { ...env, NO_COLOR: '1' });
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`^Cli/good +- +\\(activatable: ${good}\\)$`, 'm'));
  assert.doesNotMatch(all.stdout, /Cli\/bad/, 'a file that never runs offers nothing');
  assert.equal((await runCli(['ls', '--all', '--names'], dir, env)).stdout, 'Cli/good\nCli/other\n');

  const waited = await runCli(['wait', 'Cli/good'], dir, env);
  assert.equal(waited.code, 0, waited.stderr);
  const [pid] = startsOf(services.starts);
  // On a terminal, as a person reads it: stdout and stderr both arrive in `stdout`.
  const running = await runCliOnTerminal(['services'], dir, { ...env, NO_COLOR: '1' });
  assert.match(running.stdout, new RegExp(`^${good} +Cli/good,Cli/other +running, pid ${pid}$`, 'm'));
  assert.match(running.stdout, new RegExp(`^${bad} +Cli/bad +never runs$`, 'm'));
  assert.match(running.stdout, /relative path \.\/daemon/);
  const listed = JSON.parse((await runCli(['ls', '--all', '--json'], dir, env)).stdout) as Record<string, unknown>[];
  assert.deepEqual(
    listed.map((row) => [row.moniker, row.pid ?? row.activatable]),
    [
      ['Cli/good', pid],
      ['Cli/other', true],
    ],
  );
  const names = await runCli(['ls', 'Cli/', '--all', '--names'], dir, env);
  assert.equal(names.stdout, 'Cli/good\nCli/other\n', 'a held moniker once, with the activatable ones');
});

test('inspect and broker status show who waits in line for a moniker', async () => {
  const owner = spawnFixture('owner', ['Cli/line'], dir);
  await owner.waitForLine(/^ready/);
  const standby = spawnFixture('standby', ['Cli/line'], dir);
  await standby.waitForLine(/^waiting/);
  await waitFor(
    async () => {
      const { stdout } = await runCli(['inspect', 'Cli/line', '--json'], dir, env);
      return (JSON.parse(stdout) as { waiting: number[] }).waiting.includes(standby.pid as number);
    },
    10_000,
    'the standby in line',
  );
  const human = await runCliOnTerminal(['inspect', 'Cli/line'], dir, { ...env, NO_COLOR: '1' });
  assert.match(human.stdout, new RegExp(`^waiting:\\s+pid ${standby.pid}$`, 'm'));
  const json = JSON.parse((await runCli(['inspect', 'Cli/line', '--json'], dir, env)).stdout) as { waiting: number[] };
  assert.deepEqual(json.waiting, [standby.pid]);
  const status = await runCliOnTerminal(['broker', 'status'], dir, { ...env, NO_COLOR: '1' });
  assert.match(status.stdout, new RegExp(`^waiting\\s+Cli/line: pid ${standby.pid}$`, 'm'));
});
