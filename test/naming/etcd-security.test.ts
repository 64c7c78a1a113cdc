// Calls between machines are authenticated: mutual TLS with certificates of one CA, or a shared
// secret at least. A peer with the wrong certificate or secret is refused, and the owner logs it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type RuntableError } from 'runtable';
import { EtcdCluster, TEST_SECRET } from '../etcd-server.ts';
import { makeCertificates, type Pem } from '../tls-certs.ts';

let cluster: EtcdCluster;
let good: Pem;
let rogue: Pem;
let prefixes = 0;

before(async () => {
  cluster = await EtcdCluster.start(1);
  good = makeCertificates('runtable-test');
  rogue = makeCertificates('rogue');
});
after(() => cluster.stop());

function options(host: string, auth: { tls?: Pem; secret?: string }, prefix: string) {
  return { table: cluster.address, prefix, leaseTtl: 2, listen: { host, port: 0 }, timeout: 5000, ...auth };
}

test('mutual TLS: calls go through between holders of the CA certificates', async () => {
  const prefix = `tls${++prefixes}`;
  await using owner = await connect(options('127.0.0.2', { tls: good }, prefix));
  await using client = await connect(options('127.0.0.3', { tls: good }, prefix));
  await owner.register('Tls/a', { hello: (name: string) => `hello ${name}` });
  const proxy = await client.get<{ hello(name: string): string }>('Tls/a');
  assert.equal(await proxy.hello('tls'), 'hello tls');
});

test('a client whose certificate the CA did not sign is refused, and the owner logs it', async () => {
  const prefix = `tls${++prefixes}`;
  const refusals: string[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'RuntableWarning' && warning.message.includes('refused a TLS connection')) {
      refusals.push(warning.message);
    }
  };
  process.on('warning', onWarning);
  try {
    await using owner = await connect(options('127.0.0.2', { tls: good }, prefix));
    // The rogue trusts the right CA, so it would accept the owner; its own certificate is the problem.
    await using client = await connect(options('127.0.0.3', { tls: { ...rogue, ca: good.ca } }, prefix));
    await owner.register('Tls/b', { secret: () => 42 });
    const attempt = async () => (await client.get<{ secret(): number }>('Tls/b')).secret();
    await assert.rejects(attempt(), (error: RuntableError) => {
      assert.ok(
        ['ACCESS_DENIED', 'NOT_REGISTERED', 'OBJECT_GONE'].includes(error.code),
        `${error.code}: ${error.message}`,
      );
      return true;
    });
    assert.ok(refusals.length > 0, 'the owner logged the refused handshake');
    assert.match(refusals[0] as string, /127\.0\.0\.3/);
  } finally {
    process.off('warning', onWarning);
  }
});

test("an owner whose certificate the client's CA did not sign is not trusted", async () => {
  const prefix = `tls${++prefixes}`;
  await using owner = await connect(options('127.0.0.2', { tls: { ...rogue, ca: good.ca } }, prefix));
  await using client = await connect(options('127.0.0.3', { tls: good }, prefix));
  await owner.register('Tls/c', { secret: () => 42 });
  await assert.rejects(
    (async () => (await client.get<{ secret(): number }>('Tls/c')).secret())(),
    (error: RuntableError) => {
      assert.equal(error.code, 'ACCESS_DENIED', error.message);
      return true;
    },
  );
});

test('a shared secret: the same secret calls, another is refused', async () => {
  const prefix = `sec${++prefixes}`;
  await using owner = await connect(options('127.0.0.2', { secret: TEST_SECRET }, prefix));
  await using friend = await connect(options('127.0.0.3', { secret: TEST_SECRET }, prefix));
  await using stranger = await connect(options('127.0.0.3', { secret: 'not the secret of this table' }, prefix));
  await owner.register('Sec/a', { ok: () => true });
  assert.equal(await (await friend.get<{ ok(): boolean }>('Sec/a')).ok(), true);
  await assert.rejects(
    (async () => (await stranger.get<{ ok(): boolean }>('Sec/a')).ok())(),
    (error: RuntableError) => {
      assert.equal(error.code, 'ACCESS_DENIED', error.message);
      return true;
    },
  );
});

test('a table on etcd without TLS or a secret is refused before anything listens', async () => {
  await assert.rejects(
    connect({ table: cluster.address, listen: { host: '127.0.0.2', port: 0 } }),
    (error: RuntableError) => {
      assert.equal(error.code, 'BAD_ARGUMENT');
      assert.match(error.message, /tls|secret/);
      return true;
    },
  );
});
