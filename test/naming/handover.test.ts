// Hand-over of a moniker with real processes: hot standbys waiting in line (queue) take over one
// after another as owners die, replace takes a live name, and a proxy follows each new owner.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { connect, type Remote, RuntableError, type TableEvent } from 'runtable';
import { MAX_QUEUED_PER_OWNER } from '../../src/broker/session.ts';
import { type Fixture, spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

interface PidService {
  pid(): number;
}

/** The broker logs each claim it puts in line; nothing else shows a waiting claim from outside. */
function queuedInBrokerLog(pid: number, moniker: string): boolean {
  const log = fs.readFileSync(path.join(t.dir, 'broker.log'), 'utf8');
  return log.includes(`pid ${pid} waits in line for ${moniker} `);
}

function leftInBrokerLog(pid: number): boolean {
  return fs.readFileSync(path.join(t.dir, 'broker.log'), 'utf8').includes(`pid ${pid} left`);
}

/** Starts a standby and returns once the broker has it in line. */
async function standby(moniker: string): Promise<Fixture> {
  const fixture = spawnFixture('standby', [moniker], t.dir);
  await fixture.waitForLine(/^waiting/);
  await waitFor(() => queuedInBrokerLog(fixture.pid, moniker), 10_000, `pid ${fixture.pid} in line`);
  return fixture;
}

/** Collects every event under `prefix` as "type pid". */
function collect(prefix: string): { seen: string[]; stop: () => Promise<void> } {
  const seen: string[] = [];
  const events = t.table.watch(prefix);
  const pump = (async () => {
    for await (const event of events as AsyncIterable<TableEvent>) seen.push(`${event.type} ${event.entry.pid}`);
  })();
  return {
    seen,
    stop: async () => {
      await events.return();
      await pump;
    },
  };
}

/** A call through `proxy`; the first may still meet the dead owner's closing connection. */
async function pidOf(proxy: Remote<PidService>): Promise<number> {
  try {
    return await proxy.pid();
  } catch (error) {
    if ((error as RuntableError).code !== 'OBJECT_GONE') throw error;
    return await proxy.pid();
  }
}

test('five standbys take over in queue order, one per SIGKILL, and a proxy follows each', async () => {
  const moniker = 'Hand/over';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const proxy = await t.table.get<PidService>(moniker);
  assert.equal(await proxy.pid(), owner.pid);
  const watch = collect('Hand/');
  await waitFor(() => watch.seen.length === 1, 10_000, 'the snapshot');

  const standbys: Fixture[] = [];
  for (let i = 0; i < 5; i++) standbys.push(await standby(moniker));
  assert.equal((await t.table.lookup(moniker))?.pid, owner.pid, 'waiting in line does not take the name');
  assert.deepEqual(watch.seen, [`registered ${owner.pid}`], 'waiting in line is not an event');

  let holder: Fixture = owner;
  for (const [i, next] of standbys.entries()) {
    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    await next.waitForLine(/^owner /);
    assert.equal(next.lines.at(-1), `owner ${next.pid}`);
    for (const later of standbys.slice(i + 1)) {
      assert.ok(!later.lines.some((line) => line.startsWith('owner')), `standby ${later.pid} is still waiting`);
    }
    const entry = await t.table.lookup(moniker);
    assert.equal(entry?.pid, next.pid);
    assert.ok(entry && entry.registeredAt.getTime() >= killedAt - 5, 'a promoted entry is dated at its promotion');
    assert.equal(await pidOf(proxy), next.pid, 'the proxy follows the moniker to the new owner');
    holder = next;
  }

  holder.child.kill('SIGKILL');
  await waitFor(async () => !(await t.table.isRunning(moniker)), 10_000, 'the last owner to leave');
  await assert.rejects(pidOf(proxy), { code: 'NOT_REGISTERED' });

  const expected = [`registered ${owner.pid}`];
  let previous = owner.pid;
  for (const next of standbys) {
    expected.push(`revoked ${previous}`, `registered ${next.pid}`);
    previous = next.pid;
  }
  expected.push(`revoked ${previous}`);
  await waitFor(() => watch.seen.length === expected.length, 10_000, 'every event');
  assert.deepEqual(watch.seen, expected, 'watchers see the old owner revoked, then the new one registered');
  await watch.stop();
});

test('a standby that exits leaves the line: the next one is promoted instead', async () => {
  const moniker = 'Leave/line';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const [first, closes, dies, last] = [
    await standby(moniker),
    await standby(moniker),
    await standby(moniker),
    await standby(moniker),
  ] as [Fixture, Fixture, Fixture, Fixture];
  const watch = collect('Leave/');
  await waitFor(() => watch.seen.length === 1, 10_000, 'the snapshot');

  closes.child.kill('SIGTERM');
  assert.equal(await closes.exited, 0);
  dies.child.kill('SIGKILL');
  // Both are out of the line before the owner goes, so neither can be handed the name on its way out.
  await waitFor(() => leftInBrokerLog(closes.pid) && leftInBrokerLog(dies.pid), 10_000, 'the standbys to leave');

  owner.child.kill('SIGKILL');
  await first.waitForLine(/^owner /);
  first.child.kill('SIGKILL');
  await last.waitForLine(/^owner /);
  assert.equal((await t.table.lookup(moniker))?.pid, last.pid);
  assert.ok(!closes.lines.some((line) => line.startsWith('owner')));
  assert.ok(!dies.lines.some((line) => line.startsWith('owner')));
  await waitFor(() => watch.seen.length === 5, 10_000, 'two hand-overs');
  assert.deepEqual(watch.seen, [
    `registered ${owner.pid}`,
    `revoked ${owner.pid}`,
    `registered ${first.pid}`,
    `revoked ${first.pid}`,
    `registered ${last.pid}`,
  ]);
  await watch.stop();
});

test('replace over a live owner: it is told lost, watchers see revoked then registered, the line stays', async () => {
  const moniker = 'Replace/x';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const waiting = await standby(moniker);
  const watch = collect('Replace/');
  await waitFor(() => watch.seen.length === 1, 10_000, 'the snapshot');

  const reg = await t.table.register(moniker, { pid: () => process.pid }, { replace: true });
  await owner.waitForLine(/^lost Replace\/x$/);
  assert.equal((await t.table.lookup(moniker))?.pid, process.pid);
  await waitFor(() => watch.seen.length === 3, 10_000, 'the replace events');
  assert.deepEqual(watch.seen.slice(1), [`revoked ${owner.pid}`, `registered ${process.pid}`]);
  assert.ok(!waiting.lines.some((line) => line.startsWith('owner')), 'replace does not wake the line');

  // The replaced owner's death changes nothing; our revoke hands the name to the standby.
  owner.child.kill('SIGKILL');
  await owner.exited;
  await reg.revoke();
  await waiting.waitForLine(/^owner /);
  assert.equal((await t.table.lookup(moniker))?.pid, waiting.pid);
  await waitFor(() => watch.seen.length === 5, 10_000, 'the hand-over events');
  assert.deepEqual(watch.seen.slice(3), [`revoked ${process.pid}`, `registered ${waiting.pid}`]);
  await watch.stop();
});

test('a queued register in this process waits past the table timeout, then resolves as owner', async () => {
  const moniker = 'Wait/long';
  const quick = await connect({ dir: t.dir, timeout: 200 });
  try {
    const owner = spawnFixture('owner', [moniker], t.dir);
    await owner.waitForLine(/^ready/);
    const pending = quick.register(moniker, { pid: () => process.pid }, { queue: true });
    let settled = false;
    const settle = () => {
      settled = true;
    };
    pending.then(settle, settle);
    await waitFor(() => queuedInBrokerLog(process.pid, moniker), 10_000, 'our claim in line');
    // Four times the table's timeout pass: a request with that timeout would have failed by now.
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(settled, false, 'still waiting in line');

    owner.child.kill('SIGKILL');
    const reg = await pending;
    assert.equal(reg.moniker, moniker);
    assert.equal(reg.active, true);
    assert.equal(reg.entry.pid, process.pid);
    const proxy = await t.table.get<PidService>(moniker);
    assert.equal(await proxy.pid(), process.pid);
    await reg.revoke();
    assert.equal(await t.table.isRunning(moniker), false);
  } finally {
    await quick.close();
  }
});

test('aborting a queued register leaves the line and rejects with ABORTED', async () => {
  const moniker = 'Abort/x';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const controller = new AbortController();
  const pending = t.table.register(moniker, { pid: () => process.pid }, { queue: true, signal: controller.signal });
  await waitFor(() => queuedInBrokerLog(process.pid, moniker), 10_000, 'our claim in line');
  const behind = await standby(moniker);

  controller.abort();
  await assert.rejects(pending, (error: RuntableError) => {
    assert.ok(error instanceof RuntableError);
    assert.equal(error.code, 'ABORTED');
    assert.match(error.message, /Abort\/x/);
    return true;
  });
  assert.match(fs.readFileSync(path.join(t.dir, 'broker.log'), 'utf8'), /left the line for Abort\/x/);

  // We are out of the line: the standby behind us comes next.
  owner.child.kill('SIGKILL');
  await behind.waitForLine(/^owner /);
  assert.equal((await t.table.lookup(moniker))?.pid, behind.pid);

  // An already aborted signal, or replace with queue, is refused before anything is sent.
  await assert.rejects(t.table.register(moniker, {}, { queue: true, signal: AbortSignal.abort() }), {
    code: 'ABORTED',
  });
  await assert.rejects(t.table.register(moniker, {}, { queue: true, replace: true }), { code: 'BAD_ARGUMENT' });
  // A queue on a free moniker registers at once.
  const reg = await t.table.register('Abort/free', { pid: () => process.pid }, { queue: true });
  assert.equal((await t.table.lookup('Abort/free'))?.pid, process.pid);
  await reg.revoke();
});

test(`one connection may wait in line for at most ${MAX_QUEUED_PER_OWNER} monikers`, async () => {
  const holder = await connect({ dir: t.dir });
  const waiter = await connect({ dir: t.dir });
  try {
    const names = Array.from({ length: MAX_QUEUED_PER_OWNER + 1 }, (_, i) => `Limit/${i}`);
    await Promise.all(names.map((name) => holder.register(name, {})));
    const waiting = names
      .slice(0, MAX_QUEUED_PER_OWNER)
      .map((name) => waiter.register(name, {}, { queue: true }).catch((error: RuntableError) => error));
    await waitFor(
      () =>
        fs.readFileSync(path.join(t.dir, 'broker.log'), 'utf8').split(`pid ${process.pid} waits in line for Limit/`)
          .length -
          1 ===
        MAX_QUEUED_PER_OWNER,
      20_000,
      'every claim in line',
    );
    await assert.rejects(waiter.register(names.at(-1) as string, {}, { queue: true }), (error: RuntableError) => {
      assert.equal(error.code, 'BAD_ARGUMENT');
      assert.match(error.message, new RegExp(`${MAX_QUEUED_PER_OWNER}`));
      return true;
    });
    await waiter.close();
    for (const result of await Promise.all(waiting)) {
      assert.equal((result as RuntableError).code, 'TABLE_UNAVAILABLE', 'closing the table ends the wait');
    }
  } finally {
    await waiter.close();
    await holder.close();
  }
});

test('after a broker restart the owner keeps its moniker and the standbys wait in line again', async () => {
  const moniker = 'Restart/x';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const standbys = [await standby(moniker), await standby(moniker)];
  const proxy = await t.table.get<PidService>(moniker);
  assert.equal(await proxy.pid(), owner.pid);

  const { pid: oldBroker } = await t.table.status();
  process.kill(oldBroker, 'SIGKILL');
  // The log is appended to by each broker: a standby back in line has said so twice.
  const timesQueued = (pid: number) =>
    fs.readFileSync(path.join(t.dir, 'broker.log'), 'utf8').split(`pid ${pid} waits in line for ${moniker} `).length -
    1;
  await waitFor(
    async () => {
      const status = await t.table.status().catch(() => undefined);
      if (!status || status.pid === oldBroker) return false;
      return standbys.every((s) => timesQueued(s.pid) === 2) && (await t.table.lookup(moniker))?.pid === owner.pid;
    },
    15_000,
    'the owner and both standbys back in a new broker',
  );
  // The standbys came back while the name was free: they waited for its owner instead of taking it.
  assert.ok(!owner.lines.includes(`lost ${moniker}`), 'the owner did not lose its moniker');
  assert.equal(await proxy.pid(), owner.pid);

  // The line's order is the order in which the standbys came back: either may be first.
  owner.child.kill('SIGKILL');
  const first = await Promise.race(standbys.map((s) => s.waitForLine(/^owner /).then(() => s)));
  const second = standbys.find((s) => s !== first) as Fixture;
  assert.equal(await pidOf(proxy), first.pid);
  assert.ok(!second.lines.some((line) => line.startsWith('owner')));
  first.child.kill('SIGKILL');
  await second.waitForLine(/^owner /);
  assert.equal(await pidOf(proxy), second.pid);
});
