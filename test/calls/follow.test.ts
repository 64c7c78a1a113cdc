// Subscriptions follow the moniker with real processes: through a standby's take-over, a broker
// restart and an owner started again, telling the subscriber of each gap; and they end, saying
// so, when the owner revokes and nobody takes the name within the grace period.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { on, type Remote, type RuntableError, type SubscriptionGap } from 'runtable';
import { spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

interface Emitter {
  pid(): number;
  emit(count: number): number;
}

/** Ticks as "pid:n", and the gaps the subscription reported. */
function subscribe(proxy: unknown, grace?: number) {
  const ticks: string[] = [];
  const gaps: SubscriptionGap[] = [];
  const ends: RuntableError[] = [];
  const sub = on(proxy, 'tick', (pid: number, n: number) => ticks.push(`${pid}:${n}`), {
    onGap: (gap) => gaps.push(gap),
    onEnd: (reason) => ends.push(reason),
    ...(grace === undefined ? {} : { grace }),
  });
  return { sub, ticks, gaps, ends };
}

/** Calls emit through the proxy, which follows the moniker too; the first call may meet the dead owner. */
async function emit(proxy: Remote<Emitter>, count: number): Promise<void> {
  try {
    await proxy.emit(count);
  } catch (error) {
    if ((error as RuntableError).code !== 'OBJECT_GONE') throw error;
    await proxy.emit(count);
  }
}

test('a subscription moves to the standby that takes over, and reports the gap', async () => {
  const owner = spawnFixture('emitter', ['Follow/standby'], t.dir);
  await owner.waitForLine(/^owner/);
  const standby = spawnFixture('emitter', ['Follow/standby', '--queue'], t.dir);
  await standby.waitForLine(/^started/);
  const proxy = await t.table.get<Emitter>('Follow/standby');
  const { sub, ticks, gaps } = subscribe(proxy);
  await sub.ready;
  await emit(proxy, 2);
  await waitFor(() => ticks.length === 2, 10_000, "the first owner's ticks");
  assert.equal(sub.state, 'active');

  const lostAt = Date.now();
  owner.child.kill('SIGKILL');
  await standby.waitForLine(/^owner/);
  await waitFor(() => gaps.length === 1, 10_000, 'the subscription to move');
  assert.equal(gaps[0]?.pid, standby.pid);
  assert.ok((gaps[0]?.since.getTime() ?? 0) >= lostAt - 5 && (gaps[0]?.until ?? 0) >= (gaps[0]?.since ?? 0));
  assert.equal(sub.gaps, 1);
  assert.equal(sub.state, 'active');
  await emit(proxy, 2);
  await waitFor(() => ticks.length === 4, 10_000, "the standby's ticks");
  assert.deepEqual(ticks, [`${owner.pid}:0`, `${owner.pid}:1`, `${standby.pid}:0`, `${standby.pid}:1`]);
  sub();
  assert.equal(await sub.ended, undefined, 'unsubscribing ends it without a reason');
});

test('a subscription carries on through a broker restart, then follows a take-over', async () => {
  const owner = spawnFixture('emitter', ['Follow/restart'], t.dir);
  await owner.waitForLine(/^owner/);
  const proxy = await t.table.get<Emitter>('Follow/restart');
  const { sub, ticks, gaps } = subscribe(proxy);
  await sub.ready;
  const { pid: broker } = await t.table.status();
  process.kill(broker, 'SIGKILL');
  await emit(proxy, 1);
  await waitFor(() => ticks.length === 1, 10_000, 'a tick while the broker is away');
  await waitFor(
    async () => {
      const status = await t.table.status().catch(() => undefined);
      return status && status.pid !== broker && (await t.table.lookup('Follow/restart'))?.pid === owner.pid;
    },
    20_000,
    'a new broker with the owner back',
  );
  await emit(proxy, 1);
  await waitFor(() => ticks.length === 2, 10_000, 'a tick after the restart');
  assert.deepEqual(gaps, [], 'a broker restart is no gap: the owner never left');

  // The watch that follows the name resumed with the new broker: a take-over is still followed.
  const standby = spawnFixture('emitter', ['Follow/restart', '--queue'], t.dir);
  await standby.waitForLine(/^started/);
  await waitFor(async () => (await t.table.status()).waiting?.length === 1, 10_000, 'the standby in line');
  owner.child.kill('SIGKILL');
  await waitFor(() => gaps.length === 1, 15_000, 'the subscription to move');
  await emit(proxy, 1);
  await waitFor(() => ticks.length === 3, 10_000, "the standby's tick");
  assert.equal(ticks[2], `${standby.pid}:0`);
  sub();
});

test('an owner started again under the same name gets the subscription back', async () => {
  const first = spawnFixture('emitter', ['Follow/again'], t.dir);
  await first.waitForLine(/^owner/);
  const proxy = await t.table.get<Emitter>('Follow/again');
  const { sub, ticks, gaps } = subscribe(proxy, 30_000);
  await sub.ready;
  first.child.kill('SIGKILL');
  await waitFor(() => sub.state === 'following', 10_000, 'the subscription to notice');
  const second = spawnFixture('emitter', ['Follow/again'], t.dir);
  await second.waitForLine(/^owner/);
  await waitFor(() => gaps.length === 1, 10_000, 'the subscription to move');
  assert.equal(gaps[0]?.pid, second.pid);
  await emit(proxy, 1);
  await waitFor(() => ticks.length === 1, 10_000, 'a tick from the new owner');
  assert.deepEqual(ticks, [`${second.pid}:0`]);
  sub();
});

test('after a revoke with no successor within the grace, the subscription ends and says so', async () => {
  const owner = spawnFixture('emitter', ['Follow/gone'], t.dir);
  await owner.waitForLine(/^owner/);
  const proxy = await t.table.get<Emitter>('Follow/gone');
  const { sub, ends } = subscribe(proxy, 300);
  await sub.ready;
  owner.child.kill('SIGTERM');
  const reason = await sub.ended;
  assert.equal(reason?.code, 'NOT_REGISTERED');
  assert.match(reason?.message ?? '', /no owner of Follow\/gone came back within 300 ms/);
  assert.deepEqual(ends, [reason], 'onEnd told once');
  assert.equal(sub.state, 'ended');
});
