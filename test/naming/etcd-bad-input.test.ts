// Bad input around a table on etcd: an address that does not parse or does not answer, keys
// under our prefix that are not entries, and an entry whose endpoint points nowhere.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { connect, type RuntableError, type TableEvent } from 'runtable';
import { EtcdCluster, etcdTable, freePort } from '../etcd-server.ts';
import { makeCertificates } from '../tls-certs.ts';
import { nextMatching } from './table-behaviour.ts';

let cluster: EtcdCluster;
let client: Etcd3;

before(async () => {
  cluster = await EtcdCluster.start(1);
  client = new Etcd3({ hosts: cluster.members.map((member) => member.clientUrl) });
});
after(async () => {
  client.close();
  await cluster.stop();
});

test('a table address that does not parse is TABLE_UNAVAILABLE, naming it', async () => {
  for (const address of ['etcd://', 'etcd://host', 'http://127.0.0.1:2379', 'etcd://a:1,,b:2', 'etcd://h:port']) {
    await assert.rejects(connect({ ...etcdTable(address, '127.0.0.3').options }), (error: RuntableError) => {
      assert.equal(error.code, 'TABLE_UNAVAILABLE');
      assert.ok(error.message.includes(JSON.stringify(address)), error.message);
      return true;
    });
  }
});

test('an etcd that does not answer is TABLE_UNAVAILABLE, naming its address', async () => {
  const address = `etcd://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    connect({ ...etcdTable(address, '127.0.0.3').options, timeout: 1500 }),
    (error: RuntableError) => {
      assert.equal(error.code, 'TABLE_UNAVAILABLE');
      assert.ok(error.message.includes(address), error.message);
      assert.doesNotMatch(error.message, /Resolution note/);
      return true;
    },
  );
});

test('keys under the prefix that are not entries are skipped with a warning, never a crash', async () => {
  const setup = etcdTable(cluster.address, '127.0.0.3');
  const warnings: string[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'RuntableWarning') warnings.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await using table = await connect(setup.options);
    const reg = await table.register('Bad/good', { ok: () => true });
    const entries = `${setup.prefix}/entries/`;
    const good = JSON.parse((await client.get(`${entries}Bad/good`).string()) as string);
    await client.put(`${entries}Bad/garbage`).value('\u0000not json');
    await client.put(`${entries}Bad/future`).value(JSON.stringify({ ...good, moniker: 'Bad/future', v: 99 }));
    await client
      .put(`${entries}Bad/unix`)
      .value(JSON.stringify({ ...good, moniker: 'Bad/unix', endpoint: '/tmp/x.sock' }));
    await client.put(`${entries}Bad/liar`).value(JSON.stringify(good));
    await client.put(`${entries}Bad/types`).value(JSON.stringify({ ...good, moniker: 'Bad/types', methods: 'all' }));

    assert.deepEqual(
      (await table.list('Bad/')).map((entry) => entry.moniker),
      ['Bad/good'],
    );
    assert.equal(await table.lookup('Bad/garbage'), undefined);
    // Keys only: listNames reads no value, so it names every key whose name is a moniker.
    await client.put(`${entries}Bad/\u0001control`).value(JSON.stringify(good));
    assert.deepEqual(await table.listNames('Bad/'), [
      'Bad/future',
      'Bad/garbage',
      'Bad/good',
      'Bad/liar',
      'Bad/types',
      'Bad/unix',
    ]);
    await client.delete().key(`${entries}Bad/\u0001control`);
    await assert.rejects(table.get('Bad/unix'), { code: 'NOT_REGISTERED' });

    const events = table.watch('Bad/');
    assert.equal((await nextMatching(events, () => true)).entry.moniker, 'Bad/good');
    await client.put(`${entries}Bad/later`).value('{"v":1}');
    await reg.touch({ after: 'garbage' });
    const next: TableEvent = await nextMatching(events, () => true);
    assert.deepEqual([next.type, next.entry.moniker], ['changed', 'Bad/good'], 'the bad key was passed over');
    await events.return();
    for (const key of ['garbage', 'future', 'unix', 'liar', 'types', 'later']) {
      assert.ok(
        warnings.some((warning) => warning.includes(`Bad/${key}`)),
        `a warning names Bad/${key}: ${warnings.join('; ')}`,
      );
    }
  } finally {
    process.off('warning', onWarning);
  }
});

test('an entry whose endpoint points nowhere: get finds nothing live there (OBJECT_GONE as the cause)', async () => {
  const setup = etcdTable(cluster.address, '127.0.0.3');
  await using table = await connect({ ...setup.options, timeout: 2000 });
  const port = await freePort('127.0.0.2');
  await plant(setup.prefix, 'Nowhere/x', `tcp://127.0.0.2:${port}`);
  assert.equal((await table.lookup('Nowhere/x'))?.pid, 1234);
  await assert.rejects(table.get('Nowhere/x'), (error: RuntableError) => {
    assert.equal(error.code, 'NOT_REGISTERED');
    assert.equal((error.cause as RuntableError).code, 'OBJECT_GONE');
    assert.ok((error.cause as Error).message.includes(`127.0.0.2:${port}`));
    return true;
  });
});

/** Puts an entry whose endpoint is `endpoint` straight into etcd, as a foreign owner would. */
async function plant(prefix: string, moniker: string, endpoint: string): Promise<void> {
  const now = Date.now();
  await client.put(`${prefix}/entries/${moniker}`).value(
    JSON.stringify({
      v: 1,
      moniker,
      pid: 1234,
      host: 'elsewhere',
      endpoint,
      object: 1,
      methods: ['f'],
      metadata: {},
      registeredAt: now,
      changedAt: now,
    }),
  );
}

test('an endpoint that takes the connection and never answers is OBJECT_GONE after the connect timeout', async () => {
  // Accepts TCP, then says nothing: the TLS handshake never completes.
  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.2', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const setup = etcdTable(cluster.address, '127.0.0.3');
    const { secret: _, ...withoutSecret } = setup.options;
    await using table = await connect({ ...withoutSecret, tls: makeCertificates('silent-test'), timeout: 1500 });
    await plant(setup.prefix, 'Silent/x', `tcp://127.0.0.2:${port}`);
    await assert.rejects(table.get('Silent/x'), (error: RuntableError) => {
      assert.equal(error.code, 'NOT_REGISTERED');
      assert.equal((error.cause as RuntableError).code, 'OBJECT_GONE');
      assert.match((error.cause as Error).message, /does not answer/);
      return true;
    });
  } finally {
    silent.close();
  }
});
