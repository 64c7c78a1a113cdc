// The behaviour every table shares, whatever holds it: one suite, run against the local broker
// (table-local.test.ts) and against etcd (table-etcd.test.ts). Owners are separate processes;
// with etcd they listen on 127.0.0.2 and the test's own table on 127.0.0.3, as two machines.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import {
  type CallRecord,
  type ConnectOptions,
  connect,
  on,
  RuntableError,
  type Table,
  type TableEvent,
} from 'runtable';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';

/** Where the table is held, as the suite needs to know it. */
export interface Backend {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Options and fixture environment for one test's fresh table. */
  fresh(dir: string): { options: ConnectOptions; env: NodeJS.ProcessEnv };
  /** Whether process `pid` waits in line for `moniker`; nothing else shows it from outside. */
  inLine(context: Context, pid: number, moniker: string): Promise<boolean>;
}

export interface Context {
  dir: string;
  table: Table;
  options: ConnectOptions;
  env: NodeJS.ProcessEnv;
}

/** Reads events until one matches, with a deadline. */
export async function nextMatching(
  events: AsyncIterator<TableEvent>,
  match: (event: TableEvent) => boolean,
  timeoutMs = 10_000,
): Promise<TableEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const result = await Promise.race([
      events.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no matching event in time')), left).unref()),
    ]);
    if (result.done) throw new Error('watch ended');
    if (match(result.value)) return result.value;
  }
}

export function tableBehaviour(backend: Backend): void {
  const t = {} as Context;
  const spawn = (name: string, args: string[]) => spawnFixture(name, args, t.dir, t.env);
  before(() => backend.start());
  after(() => backend.stop());
  beforeEach(async () => {
    t.dir = tempTableDir();
    Object.assign(t, backend.fresh(t.dir));
    t.table = await connect(t.options);
  });
  afterEach(async () => {
    await t.table.close();
    await cleanup(t.dir);
  });

  test('entries registered by other processes are listed by prefix and looked up', async () => {
    const a = spawn('owner', ['Sample/a', 'Sample/b']);
    const b = spawn('owner', ['Sample/c', 'Other/x']);
    await Promise.all([a.waitForLine(/^ready/), b.waitForLine(/^ready/)]);

    const entries = await t.table.list('Sample/');
    assert.deepEqual(
      entries.map((e) => e.moniker),
      ['Sample/a', 'Sample/b', 'Sample/c'],
    );
    const entry = entries[0];
    assert.ok(entry);
    assert.equal(entry.pid, a.pid);
    assert.deepEqual(entry.metadata, { fixture: 'owner' });
    assert.ok(entry.methods.includes('echo'));
    assert.ok(!entry.methods.includes('_secret'));
    assert.ok(entry.registeredAt instanceof Date);
    assert.equal((await t.table.list('')).length, 4);
    assert.equal((await t.table.list('Nothing/')).length, 0);
    assert.equal((await t.table.lookup('Other/x'))?.pid, b.pid);
    assert.equal(await t.table.lookup('Other/y'), undefined);
    assert.equal(await t.table.isRunning('Sample/c'), true);
    assert.equal(await t.table.isRunning('Sample/d'), false);
  });

  test('listNames gives the monikers that list gives, in its order, as entries come and go', async () => {
    assert.deepEqual(await t.table.listNames(''), [], 'an empty table');
    assert.deepEqual(await t.table.listNames('Names/'), []);
    // Heads of every size (lengths 1, 23, 24, 255, 256, 512 bytes), and UTF-8 whose order differs
    // between UTF-16 code units (the broker) and bytes (etcd): each backend's listNames follows its list.
    const long = (bytes: number) => `Names/${'x'.repeat(bytes - 'Names/'.length)}`;
    const monikers = [
      'Names/a',
      'Names/ab',
      'Names/b',
      'Names/é',
      'Names/日本',
      'Names/😀',
      'Names/～',
      'N',
      long(23),
      long(24),
      long(255),
      long(256),
      long(512),
    ];
    const owner = spawn('owner', ['Names/other', 'Other/x']);
    const registrations = await Promise.all(monikers.map((moniker) => t.table.register(moniker, { f() {} })));
    await owner.waitForLine(/^ready/);
    const namesOf = async (prefix: string) => (await t.table.list(prefix)).map((entry) => entry.moniker);
    for (const prefix of [
      '',
      'N',
      'Names/',
      'Names/a',
      'Names/é',
      'Names/日',
      'Names/😀',
      'Names/ab',
      'Names/abc',
      'Nothing/',
    ]) {
      assert.deepEqual(await t.table.listNames(prefix), await namesOf(prefix), `prefix ${JSON.stringify(prefix)}`);
    }
    const all = await t.table.listNames('Names/');
    assert.deepEqual([...all].sort(), [...monikers.filter((m) => m !== 'N'), 'Names/other'].sort());
    assert.deepEqual(await t.table.listNames('Names/a'), ['Names/a', 'Names/ab'], 'a prefix that is a whole moniker');
    assert.deepEqual(await t.table.listNames('Names/é'), ['Names/é']);
    assert.deepEqual(await t.table.listNames(long(512)), [long(512)]);

    await registrations[0]?.revoke();
    assert.deepEqual(await t.table.listNames('Names/a'), ['Names/ab'], 'a revoked moniker leaves');
    owner.child.kill('SIGTERM');
    await owner.exited;
    assert.deepEqual(await t.table.listNames('Other/'), [], 'an exited owner takes its names');
    await t.table.register('Names/a', { f() {} });
    assert.deepEqual(await t.table.listNames('Names/a'), ['Names/a', 'Names/ab'], 'and a new one comes');
    await assert.rejects(t.table.listNames('bad\u0001'), { code: 'BAD_MONIKER' });
    await assert.rejects(t.table.listNames(1 as unknown as string), { code: 'BAD_MONIKER' });
  });

  test('calls go to the owner process, with values and errors as they were', async () => {
    const owner = spawn('owner', ['Call/a']);
    await owner.waitForLine(/^ready/);
    const proxy = await t.table.get<{
      echo<T>(value: T): T;
      add(a: number, b: number): number;
      pid(): number;
      fail(message: string, code?: string): void;
    }>('Call/a');
    assert.equal(await proxy.pid(), owner.pid);
    assert.equal(await proxy.add(2, 3), 5);
    const value = { when: new Date(1000), bytes: new Uint8Array([1, 2, 3]), big: 10n, set: new Set([1]) };
    assert.deepEqual(await proxy.echo(value), value);
    await assert.rejects(proxy.fail('no', 'E_NO'), (error: RuntableError) => {
      assert.equal(error.code, 'REMOTE');
      assert.equal(error.remote?.code, 'E_NO');
      return true;
    });
    const loose = await t.table.get<{ missing(): void }>('Call/a');
    await assert.rejects(loose.missing(), { code: 'NO_SUCH_METHOD' });
    await assert.rejects(t.table.get('Call/none'), { code: 'NOT_REGISTERED' });
  });

  test('a moniker has one owner: a second register fails with ALREADY_REGISTERED', async () => {
    const owner = spawn('owner', ['Unique/one']);
    await owner.waitForLine(/^ready/);
    await assert.rejects(t.table.register('Unique/one', { f() {} }), (error: RuntableError) => {
      assert.ok(error instanceof RuntableError);
      assert.equal(error.code, 'ALREADY_REGISTERED');
      assert.match(error.message, /Unique\/one/);
      return true;
    });
    const second = spawn('owner', ['Unique/one']);
    assert.notEqual(await second.exited, 0);
    assert.equal((await t.table.lookup('Unique/one'))?.pid, owner.pid);
  });

  test('replace takes over a live moniker and the old owner is told it lost it', async () => {
    const owner = spawn('owner', ['Hand/over']);
    await owner.waitForLine(/^ready/);
    const reg = await t.table.register('Hand/over', { mine: () => process.pid }, { replace: true });
    await owner.waitForLine(/^lost Hand\/over$/);
    assert.equal((await t.table.lookup('Hand/over'))?.pid, process.pid);
    const proxy = await t.table.get<{ mine(): number }>('Hand/over');
    assert.equal(await proxy.mine(), process.pid);
    await reg.revoke();
    assert.equal(await t.table.isRunning('Hand/over'), false);
  });

  test('watch gives the current entries, then registered, changed and revoked as they happen', async () => {
    await t.table.register('W/before', { f() {} });
    const controller = new AbortController();
    const events = t.table.watch('W/', { signal: controller.signal });
    const first = await nextMatching(events, () => true);
    assert.equal(first.type, 'registered');
    assert.equal(first.entry.moniker, 'W/before');

    const owner = spawn('owner', ['W/child', 'Elsewhere/x']);
    const registered = await nextMatching(events, () => true);
    assert.deepEqual(
      [registered.type, registered.entry.moniker, registered.entry.pid],
      ['registered', 'W/child', owner.pid],
    );

    const reg = await t.table.register('W/mine', { f() {} });
    await nextMatching(events, (e) => e.entry.moniker === 'W/mine' && e.type === 'registered');
    const touched = await reg.touch({ state: 'busy' });
    const changed = await nextMatching(events, () => true);
    assert.equal(changed.type, 'changed');
    assert.deepEqual(changed.entry.metadata, { state: 'busy' });
    assert.equal(changed.entry.changedAt.getTime(), touched.changedAt.getTime());

    await reg.revoke();
    const revoked = await nextMatching(events, () => true);
    assert.deepEqual([revoked.type, revoked.entry.moniker], ['revoked', 'W/mine']);
    controller.abort();
    assert.deepEqual(await events.next(), { value: undefined, done: true });
  });

  test('several next() calls waiting at once each get their own event, in order', async () => {
    const controller = new AbortController();
    const events = t.table.watch('Both/', { signal: controller.signal });
    const first = events.next();
    const second = events.next();
    const third = events.next();
    await t.table.register('Both/a', { f() {} });
    await t.table.register('Both/b', { f() {} });
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(
      [a, b].map((result) => (result.done ? 'done' : `${result.value.type} ${result.value.entry.moniker}`)),
      ['registered Both/a', 'registered Both/b'],
    );
    controller.abort();
    assert.deepEqual(await third, { value: undefined, done: true }, 'a next() still waiting ends with the watch');
  });

  test('an owner that exits normally leaves no entry behind, at once', async () => {
    const owner = spawn('owner', ['Exit/a']);
    await owner.waitForLine(/^ready/);
    owner.child.kill('SIGTERM');
    const code = await owner.exited;
    assert.equal(code, 0, `exit code ${code}, signal ${owner.child.signalCode}`);
    assert.equal(await t.table.isRunning('Exit/a'), false);
  });

  test('revoke and close remove entries; a closed table refuses work', async () => {
    const reg = await t.table.register('Close/a', { f() {} });
    await t.table.register('Close/b', { f() {} });
    await reg.revoke();
    assert.equal(reg.active, false);
    assert.deepEqual(
      (await t.table.list('Close/')).map((e) => e.moniker),
      ['Close/b'],
    );
    const other = await connect(t.options);
    try {
      await t.table.close();
      await assert.rejects(t.table.list(''), { code: 'TABLE_UNAVAILABLE' });
      assert.deepEqual(await other.list('Close/'), [], 'gone as soon as close() resolved');
    } finally {
      await other.close();
      t.table = await connect(t.options);
    }
  });

  test('await using revokes a registration and closes a table', async () => {
    {
      await using inner = await connect(t.options);
      await using reg = await inner.register('Using/a', { f() {} });
      assert.equal(reg.active, true);
      assert.equal(await t.table.isRunning('Using/a'), true);
    }
    assert.equal(await t.table.isRunning('Using/a'), false);
  });

  test('metadata is held to its limit on register and on touch', async () => {
    const big = { blob: 'x'.repeat(20_000) };
    await assert.rejects(t.table.register('Meta/a', {}, { metadata: big }), { code: 'BAD_ARGUMENT' });
    const reg = await t.table.register('Meta/a', {}, { metadata: { small: true } });
    await assert.rejects(reg.touch(big), { code: 'BAD_ARGUMENT' });
    assert.deepEqual((await t.table.lookup('Meta/a'))?.metadata, { small: true });
  });

  test('standbys in line take over in order when owners leave, and a proxy follows', async () => {
    const moniker = 'Line/x';
    const owner = spawn('owner', [moniker]);
    await owner.waitForLine(/^ready/);
    const proxy = await t.table.get<{ pid(): number }>(moniker);
    const standbys = [];
    for (let i = 0; i < 2; i++) {
      const standby = spawn('standby', [moniker]);
      await standby.waitForLine(/^waiting/);
      await waitFor(() => backend.inLine(t, standby.pid, moniker), 10_000, `pid ${standby.pid} in line`);
      standbys.push(standby);
    }
    assert.equal((await t.table.lookup(moniker))?.pid, owner.pid, 'waiting in line does not take the name');
    const [first, second] = standbys as [(typeof standbys)[0], (typeof standbys)[0]];
    const { waiting } = await t.table.status();
    assert.deepEqual(
      waiting?.find((line) => line.moniker === moniker)?.pids,
      [first.pid, second.pid],
      'status() names the line, next first',
    );

    owner.child.kill('SIGTERM');
    await first.waitForLine(/^owner /);
    assert.ok(!second.lines.some((line) => line.startsWith('owner')), 'the second still waits');
    assert.equal((await t.table.lookup(moniker))?.pid, first.pid);
    assert.equal(await pidAfterHandOver(proxy), first.pid, 'the proxy follows the moniker');

    first.child.kill('SIGTERM');
    await second.waitForLine(/^owner /);
    assert.equal((await t.table.lookup(moniker))?.pid, second.pid);
    assert.equal(await pidAfterHandOver(proxy), second.pid);
  });

  test('waitFor resolves through the watch once another process registers the name', async () => {
    await assert.rejects(t.table.waitFor('Wait/none', { timeout: 100 }), { code: 'TIMEOUT' });
    await assert.rejects(t.table.get('Wait/none'), { code: 'NOT_REGISTERED' });
    const waiting = t.table.waitFor('Wait/x', { timeout: 30_000 });
    const owner = spawn('owner', ['Wait/x']);
    assert.equal((await waiting).pid, owner.pid);
    assert.equal((await t.table.waitFor('Wait/x', { timeout: 1 })).pid, owner.pid, 'at once when it is there');
  });

  test('a subscription follows the moniker to the standby that takes over', async () => {
    const owner = spawn('emitter', ['Follow/x']);
    await owner.waitForLine(/^owner/);
    const standby = spawn('emitter', ['Follow/x', '--queue']);
    await standby.waitForLine(/^started/);
    await waitFor(() => backend.inLine(t, standby.pid, 'Follow/x'), 10_000, 'the standby in line');
    const proxy = await t.table.get<{ emit(count: number): number }>('Follow/x');
    const ticks: number[] = [];
    const gaps: (number | undefined)[] = [];
    const sub = on(proxy, 'tick', (pid: number) => ticks.push(pid), { onGap: (gap) => gaps.push(gap.pid) });
    await sub.ready;
    await proxy.emit(1);
    await waitFor(() => ticks.length === 1, 10_000, 'a tick from the owner');
    owner.child.kill('SIGTERM');
    await standby.waitForLine(/^owner/);
    await waitFor(() => gaps.length === 1, 20_000, 'the subscription to move');
    assert.deepEqual(gaps, [standby.pid]);
    await pidAfterHandOver({ pid: () => proxy.emit(1) });
    await waitFor(() => ticks.length === 2, 10_000, 'a tick from the standby');
    assert.deepEqual(ticks, [owner.pid, standby.pid]);
    sub();
  });

  test('a monitor sees the calls of every owner under its prefix, those registered after it started too', async () => {
    const first = spawn('owner', ['Mon/a', 'Unwatched/x']);
    await first.waitForLine(/^ready/);
    const stop = new AbortController();
    const records: CallRecord[] = [];
    const monitoring = (async () => {
      for await (const record of t.table.monitor('Mon/', { signal: stop.signal })) records.push(record);
    })();
    type Service = { add(a: number, b: number): number; fail(message: string): void };
    const a = await t.table.get<Service>('Mon/a');
    const other = await t.table.get<Service>('Unwatched/x');
    // Calls until the first shows: the monitor attaches to each owner at its own pace.
    await waitFor(
      async () => {
        await a.add(1, 1);
        return records.length > 0;
      },
      10_000,
      'the monitor to attach',
    );
    const later = spawn('owner', ['Mon/b']);
    await later.waitForLine(/^ready/);
    const b = await t.table.get<Service>('Mon/b');
    await waitFor(
      async () => {
        await b.add(2, 2);
        return records.some((r) => r.moniker === 'Mon/b');
      },
      10_000,
      'the later owner',
    );
    await other.add(3, 3);
    await assert.rejects(a.fail('no'), { code: 'REMOTE' });
    await waitFor(() => records.some((r) => r.method === 'fail'), 10_000, 'the failed call');
    stop.abort();
    await monitoring;
    const owners = new Map(records.map((r) => [r.moniker, r.ownerPid]));
    assert.deepEqual(Object.fromEntries(owners), { 'Mon/a': first.pid, 'Mon/b': later.pid });
    assert.ok(records.every((r) => r.callerPid === process.pid));
    assert.deepEqual(
      records.filter((r) => r.method === 'fail').map((r) => [r.moniker, r.outcome]),
      [['Mon/a', 'REMOTE']],
    );
  });
}

/** A call through `proxy`; the first may still meet the old owner's closing connection. */
async function pidAfterHandOver(proxy: { pid(): Promise<number> }): Promise<number> {
  try {
    return await proxy.pid();
  } catch (error) {
    if ((error as RuntableError).code !== 'OBJECT_GONE') throw error;
    return await proxy.pid();
  }
}
