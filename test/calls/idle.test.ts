// register's idle option: 'idle' comes when no client has been connected for the time asked,
// never while one is, and again after the next client leaves; bad values are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

test('idle comes after `after` ms without clients, and again after the next client leaves', async () => {
  const reg = await t.table.register('Idle/a', { ping: () => 'pong' }, { idle: { after: 100 } });
  const idles: number[] = [];
  reg.on('idle', () => idles.push(Date.now()));
  await waitFor(() => idles.length === 1, 10_000, 'the first idle');

  const client = await t.other();
  const proxy = await client.get<{ ping(): string }>('Idle/a');
  assert.equal(await proxy.ping(), 'pong');
  assert.equal(idles.length, 1, 'no idle while a client is connected');
  const closedAt = Date.now();
  await client.close();
  await waitFor(() => idles.length === 2, 10_000, 'the idle after the client left');
  assert.ok((idles[1] as number) >= closedAt, 'the second idle follows the client leaving');
  await reg.revoke();
});

test('idle must be a positive number of ms, and a registration has no other events', async () => {
  for (const after of [0, -5, Number.NaN, '10' as unknown as number]) {
    await assert.rejects(t.table.register('Idle/bad', { f() {} }, { idle: { after } }), { code: 'BAD_ARGUMENT' });
  }
  const reg = await t.table.register('Idle/x', { f() {} });
  assert.throws(() => reg.on('busy' as 'idle', () => {}), { code: 'BAD_ARGUMENT' });
});
