// Activation on demand with real processes: the broker starts a service file's command for a
// moniker nobody holds, once however many ask, again after it dies, never for list/lookup/watch,
// and fails its callers, naming the file and quoting the output, when the command goes wrong.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { connect, type RuntableError, type Table } from 'runtable';
import { MAX_ACTIVATIONS_PER_CONNECTION } from '../../src/broker/session.ts';
import { processGroup } from '../../src/naming/liveness.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { brokerPids, cleanup, isAlive, tempTableDir, waitFor } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';
import { activatedCommand, servicesDir, startsOf, writeService } from './services.ts';

interface Daemon {
  pid(): number;
  hello(name: string): string;
}

let dir: string;
let services: ReturnType<typeof servicesDir>;
let tables: Table[] = [];
let savedServices: string | undefined;

beforeEach(() => {
  dir = tempTableDir();
  services = servicesDir();
  // The broker the first connect() starts inherits this: it reads this test's services only.
  savedServices = process.env.RUNTABLE_SERVICES;
  process.env.RUNTABLE_SERVICES = services.dir;
});

afterEach(async () => {
  for (const table of tables) await table.close();
  tables = [];
  for (const pid of startsOf(services.starts)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await cleanup(dir);
  services.remove();
  process.env.RUNTABLE_SERVICES = savedServices;
});

async function open(): Promise<Table> {
  const table = await connect({ dir });
  tables.push(table);
  return table;
}

function daemonService(name: string, moniker: string, extra: Record<string, unknown> = {}): string {
  return writeService(services.dir, name, {
    monikers: [moniker],
    command: activatedCommand([services.starts, 'register', moniker]),
    cwd: path.resolve('.'),
    ...extra,
  });
}

/** The parent pid of `pid`, from /proc. */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function brokerLog(): string {
  return fs.readFileSync(path.join(dir, 'broker.log'), 'utf8');
}

test('20 concurrent get()s of a moniker nobody holds start its service exactly once', async () => {
  daemonService('build', 'Build/daemon');
  const clients = await Promise.all(Array.from({ length: 20 }, () => open()));
  const proxies = await Promise.all(clients.map((table) => table.get<Daemon>('Build/daemon')));
  const pids = await Promise.all(proxies.map((proxy) => proxy.pid()));
  const starts = startsOf(services.starts);
  assert.equal(starts.length, 1, `started ${starts.length} times`);
  assert.deepEqual(new Set(pids), new Set(starts), 'every caller reached the one started process');
  assert.equal(await proxies[0]?.hello('you'), 'hello you');
  // Detached from every client: a process group of its own, a child of the broker.
  const pid = starts[0] as number;
  assert.equal(processGroup(pid), pid);
  assert.deepEqual(brokerPids(dir), [parentOf(pid)]);
  const [info] = await (clients[0] as Table).services();
  assert.equal(info?.pid, starts[0], 'services() shows it running');
});

test('a killed activated owner is started again by the next get()', async () => {
  daemonService('build', 'Build/daemon');
  const table = await open();
  const first = await (await table.get<Daemon>('Build/daemon')).pid();
  process.kill(first, 'SIGKILL');
  await waitFor(async () => !(await table.isRunning('Build/daemon')), 10_000, 'the dead owner to leave');
  const second = await (await table.get<Daemon>('Build/daemon')).pid();
  assert.notEqual(second, first);
  assert.deepEqual(startsOf(services.starts), [first, second]);
});

test("a caller between a served owner's death and its exit gets the command started again", async () => {
  // The command is a wrapper that outlives its daemon until told: the daemon's entries leave at
  // its death while the broker's run (the wrapper) still lives, as in the moments between a
  // killed owner's sockets closing and the broker hearing of its exit. It also ends once the
  // test's directory is gone, so that a run started after the test's clean-up does not loop on.
  const go = path.join(dir, 'go');
  writeService(services.dir, 'build', {
    monikers: ['Build/daemon'],
    command: [
      '/bin/sh',
      '-c',
      '"$@"; while [ -d "$(dirname "$0")" ] && [ ! -e "$0" ]; do sleep 0.05; done',
      go,
      ...activatedCommand([services.starts, 'register', 'Build/daemon']),
    ],
    cwd: path.resolve('.'),
  });
  const table = await open();
  const first = await (await table.get<Daemon>('Build/daemon')).pid();
  process.kill(first, 'SIGKILL');
  await waitFor(async () => !(await table.isRunning('Build/daemon')), 10_000, 'the dead owner to leave');
  const again = table.get<Daemon>('Build/daemon');
  const waiting = 'waiting for it to register Build/daemon again';
  await waitFor(() => brokerLog().includes(waiting), 10_000, 'the caller to wait on the wrapper');
  fs.writeFileSync(go, '');
  const second = await (await again).pid();
  assert.notEqual(second, first);
  assert.deepEqual(startsOf(services.starts), [first, second]);
});

test('waitFor() activates too, and resolves with the entry', async () => {
  daemonService('build', 'Build/daemon');
  const table = await open();
  const entry = await table.waitFor('Build/daemon', { timeout: 30_000 });
  assert.equal(entry.moniker, 'Build/daemon');
  assert.deepEqual(startsOf(services.starts), [entry.pid]);
});

test('list, lookup, isRunning and watch never start anything', async () => {
  daemonService('build', 'Build/daemon');
  const table = await open();
  assert.deepEqual(await table.list(''), []);
  assert.equal(await table.lookup('Build/daemon'), undefined);
  assert.equal(await table.isRunning('Build/daemon'), false);
  const watch = table.watch('Build/');
  // A watch with nothing to show: a registration by hand ends it, proving it ran.
  const reg = await table.register('Build/other', { x: () => 1 });
  const first = await watch.next();
  assert.equal(first.value?.entry.moniker, 'Build/other');
  await watch.return();
  await reg.revoke();
  assert.deepEqual(startsOf(services.starts), [], 'nothing was started');
});

test('a command that exits fails every caller with ACTIVATION_FAILED naming the file and quoting its output', async () => {
  const file = writeService(services.dir, 'broken', {
    monikers: ['Broken/daemon'],
    command: activatedCommand([services.starts, 'fail', '3']),
  });
  const clients = await Promise.all([open(), open(), open()]);
  const failures = await Promise.allSettled(clients.map((table) => table.get('Broken/daemon')));
  for (const failure of failures) {
    assert.equal(failure.status, 'rejected');
    const error = (failure as PromiseRejectedResult).reason as RuntableError;
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.ok(error.message.includes(file), error.message);
    assert.match(error.message, /exited \(code 3\) before registering/);
    assert.match(error.message, /cannot go on, exiting with 3$/, 'ends with the tail of the output');
  }
  assert.equal(startsOf(services.starts).length, 1, 'started once for all three');
});

test('a command that does not register within its timeout fails its callers and is stopped', async () => {
  const file = writeService(services.dir, 'silent', {
    monikers: ['Silent/daemon'],
    command: activatedCommand([services.starts, 'silent']),
    timeout: 3000,
  });
  const table = await open();
  await assert.rejects(table.get('Silent/daemon'), (error: RuntableError) => {
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.ok(error.message.includes(file));
    assert.match(error.message, /did not register Silent\/daemon within 3000 ms/);
    assert.match(error.message, /registering nothing$/);
    return true;
  });
  const [pid] = startsOf(services.starts);
  await waitFor(() => !isAlive(pid as number), 10_000, 'the stuck command to be stopped');
});

test('a command that registers a different moniker fails its callers, saying so', async () => {
  const file = writeService(services.dir, 'wrong', {
    monikers: ['Wanted/daemon'],
    command: activatedCommand([services.starts, 'register', 'Other/daemon']),
  });
  const table = await open();
  await assert.rejects(table.waitFor('Wanted/daemon', { timeout: 30_000 }), (error: RuntableError) => {
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.ok(error.message.includes(file));
    assert.match(error.message, /registered Other\/daemon, which the file does not name \(it names Wanted\/daemon\)/);
    return true;
  });
});

test('a service file writable by others, or a symlink, is never run; callers and the log are told', async () => {
  const file = writeService(
    services.dir,
    'loose',
    {
      monikers: ['Loose/daemon'],
      command: activatedCommand([services.starts, 'register', 'Loose/daemon']),
    },
    0o666,
  );
  const target = writeService(services.dir, 'target.real', {
    monikers: ['Linked/daemon'],
    command: activatedCommand([services.starts, 'register', 'Linked/daemon']),
  });
  fs.renameSync(target, path.join(services.dir, 'target.real'));
  const foreign = writeService(services.dir, 'foreign', {
    monikers: ['Foreign/daemon'],
    command: activatedCommand([services.starts, 'register', 'Foreign/daemon']),
  });
  // Only root can give a file away; as anyone else, the mode check above stands for both.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) fs.chownSync(foreign, 12345, 12345);
  fs.symlinkSync(path.join(services.dir, 'target.real'), path.join(services.dir, 'linked.json'));
  const table = await open();
  await assert.rejects(table.get('Loose/daemon'), (error: RuntableError) => {
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.match(error.message, /writable by group or others \(mode 0666\); it is never run/);
    assert.ok(error.message.includes(file));
    return true;
  });
  if (asRoot) {
    await assert.rejects(table.get('Foreign/daemon'), (error: RuntableError) => {
      assert.equal(error.code, 'ACTIVATION_FAILED');
      assert.match(error.message, /foreign\.json belongs to uid 12345, not to you \(uid 0\); it is never run/);
      return true;
    });
  }
  const listed = await table.services();
  const linked = listed.find((info) => info.file.endsWith('linked.json'));
  assert.match(linked?.problem ?? '', /symbolic link/);
  assert.match(brokerLog(), /not activating Loose\/daemon: service file .*loose\.json is writable by group or others/);
  assert.deepEqual(startsOf(services.starts), [], 'nothing ran');
});

test('malformed service files are reported by services() and the log, and never stop the broker', async () => {
  writeService(services.dir, 'a-bad-json', '{ "monikers": [');
  writeService(services.dir, 'b-no-command', { monikers: ['NoCommand/daemon'] });
  writeService(services.dir, 'c-relative', { monikers: ['Relative/daemon'], command: ['bin/daemon'] });
  writeService(services.dir, 'd-unknown', { monikers: ['Unknown/daemon'], command: ['/bin/true'], restart: true });
  daemonService('e-good', 'Good/daemon');
  const table = await open();
  const byName = new Map((await table.services()).map((info) => [path.basename(info.file), info]));
  assert.match(byName.get('a-bad-json.json')?.problem ?? '', /is not valid JSON/);
  assert.match(byName.get('b-no-command.json')?.problem ?? '', /"command" is missing/);
  assert.match(byName.get('c-relative.json')?.problem ?? '', /relative path bin\/daemon/);
  assert.match(byName.get('d-unknown.json')?.problem ?? '', /unknown field "restart"/);
  assert.equal(byName.get('e-good.json')?.problem, undefined);
  await assert.rejects(table.get('NoCommand/daemon'), (error: RuntableError) => {
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.match(error.message, /b-no-command\.json: "command" is missing/);
    return true;
  });
  assert.match(brokerLog(), /not activating NoCommand\/daemon/);
  // The broker is unharmed: a good service next to them starts.
  assert.equal(typeof (await (await table.get<Daemon>('Good/daemon')).pid()), 'number');
  assert.equal(brokerPids(dir).length, 1);
});

test('a broker restart during an activation never starts a second copy', async () => {
  writeService(services.dir, 'slow', {
    monikers: ['Slow/daemon'],
    command: activatedCommand([services.starts, 'slow', 'Slow/daemon', '60000']),
  });
  const table = await open();
  const getting = table.get<Daemon>('Slow/daemon');
  const [started] = await waitFor(
    () => {
      const starts = startsOf(services.starts);
      return starts.length > 0 ? starts : undefined;
    },
    20_000,
    'the command to start',
  );
  const [broker] = brokerPids(dir);
  process.kill(broker as number, 'SIGKILL');
  // The get() asks the new broker again, which finds the process the first one started.
  await waitFor(
    () => /started earlier, still runs; waiting for it/.test(brokerLog()),
    20_000,
    'the new broker to adopt it',
  );
  // Now let it register: the new broker must hand it to the waiting get(), not start another.
  process.kill(started as number, 'SIGUSR2');
  const proxy = await getting;
  assert.equal(await proxy.pid(), started);
  assert.deepEqual(startsOf(services.starts), [started]);
});

test('a program that cannot be found, or a cwd that is not there, fails its callers saying which', async () => {
  const missing = writeService(services.dir, 'missing', {
    monikers: ['Missing/daemon'],
    command: ['/nonexistent/daemon'],
  });
  writeService(services.dir, 'nocwd', {
    monikers: ['NoCwd/daemon'],
    command: activatedCommand([services.starts, 'register', 'NoCwd/daemon']),
    cwd: '/nonexistent/dir',
  });
  const table = await open();
  await assert.rejects(table.get('Missing/daemon'), (error: RuntableError) => {
    assert.equal(error.code, 'ACTIVATION_FAILED');
    assert.ok(error.message.startsWith(`service file ${missing}: its command could not be started`), error.message);
    assert.match(error.message, /ENOENT/);
    return true;
  });
  await assert.rejects(table.get('NoCwd/daemon'), {
    code: 'ACTIVATION_FAILED',
    message: /names the cwd \/nonexistent\/dir, which is not a directory/,
  });
  assert.deepEqual(startsOf(services.starts), []);
});

test('a moniker no service file names is NOT_REGISTERED at once', async () => {
  daemonService('build', 'Build/daemon');
  const table = await open();
  await assert.rejects(table.get('Nobody/here'), { code: 'NOT_REGISTERED' });
  assert.deepEqual(startsOf(services.starts), []);
});

test('Activate and Services from a raw peer: bad input is refused, waiting Activates are bounded', async () => {
  writeService(services.dir, 'slow', {
    monikers: ['Slow/daemon'],
    command: activatedCommand([services.starts, 'slow', 'Slow/daemon', '60000']),
  });
  await open();
  const peer = await RawPeer.handshaken(path.join(dir, 'broker.sock'));
  try {
    peer.send({ kind: Kind.Activate, id: 1, moniker: '' });
    assert.equal((await peer.failure(1)).error.code, 'BAD_MONIKER');
    peer.send({ kind: Kind.Activate, id: 2, moniker: 7 });
    assert.equal((await peer.failure(2)).error.code, 'PROTOCOL');
    assert.equal((await peer.request({ kind: Kind.Activate, id: 3, moniker: 'Nobody/x' })).value, null);
    for (let id = 10; id < 10 + MAX_ACTIVATIONS_PER_CONNECTION; id++) {
      peer.send({ kind: Kind.Activate, id, moniker: 'Slow/daemon' });
    }
    peer.send({ kind: Kind.Activate, id: 5000, moniker: 'Slow/daemon' });
    const refused = await peer.failure(5000, 20_000);
    assert.equal(refused.error.code, 'BAD_ARGUMENT');
    assert.match(refused.error.message, /at most 1024 activations/);
    const listed = (await peer.request({ kind: Kind.Services, id: 6000 })).value as { file: string }[];
    assert.equal(listed.length, 1, 'the connection goes on');
    await waitFor(() => startsOf(services.starts).length > 0, 20_000, 'the command to start');
    assert.equal(startsOf(services.starts).length, 1, 'one process for all those requests');
  } finally {
    peer.destroy();
  }
});
