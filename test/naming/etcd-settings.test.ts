// The pure parts of a table across machines: etcd and endpoint addresses, settings from options
// and environment, the key layout and the decoding of stored entries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEntry, encodeEntry, KeyLayout } from '../../src/naming/etcd/keys.ts';
import { DEFAULT_LEASE_TTL_S, etcdSettings, parseEtcdAddress } from '../../src/naming/etcd/settings.ts';
import { parseTcpAddress, tcpAddress } from '../../src/transport/tcp.ts';

test('etcd addresses: one or more host:port, plain or TLS; anything else names itself', () => {
  assert.deepEqual(parseEtcdAddress('etcd://a:2379,b.example:2380'), {
    hosts: ['http://a:2379', 'http://b.example:2380'],
    secure: false,
  });
  assert.deepEqual(parseEtcdAddress('etcds://[::1]:2379/'), { hosts: ['https://[::1]:2379'], secure: true });
  for (const bad of ['', 'etcd://', 'etcd://a', 'etcd://a:b', 'etcd://a:1,', 'redis://a:1', 'etcd://a:1/path']) {
    assert.throws(
      () => parseEtcdAddress(bad),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'TABLE_UNAVAILABLE');
        assert.ok(error.message.includes(JSON.stringify(bad)));
        return true;
      },
    );
  }
});

test('endpoint addresses round-trip, IPv6 in brackets; others are refused', () => {
  assert.equal(tcpAddress('10.0.0.5', 4000), 'tcp://10.0.0.5:4000');
  assert.equal(tcpAddress('::1', 4000), 'tcp://[::1]:4000');
  assert.deepEqual(parseTcpAddress('tcp://[::1]:4000'), { host: '::1', port: 4000 });
  assert.deepEqual(parseTcpAddress('tcp://node-a:1'), { host: 'node-a', port: 1 });
  for (const bad of ['tcp://a:0', 'tcp://a:70000', '/tmp/x.sock', 'tcp://a', 'tcp://a:1/x', 'tcp://a b:1']) {
    assert.throws(() => parseTcpAddress(bad), { code: 'BAD_ARGUMENT' });
  }
});

test('settings: options win over the environment; authentication is required', () => {
  const saved = { ...process.env };
  try {
    process.env.RUNTABLE_SECRET = 'from the environment!';
    process.env.RUNTABLE_LISTEN = '127.0.0.9:7000';
    process.env.RUNTABLE_LEASE_TTL = '3';
    const fromEnv = etcdSettings('etcd://a:1', {});
    assert.equal(fromEnv.token, 'from the environment!');
    assert.deepEqual(fromEnv.listen, { host: '127.0.0.9', port: 7000 });
    assert.equal(fromEnv.leaseTtl, 3);
    assert.equal(fromEnv.prefix, 'runtable');
    const fromOptions = etcdSettings('etcd://a:1', {
      secret: 'from the options, long',
      listen: { port: 1 },
      leaseTtl: 9,
      prefix: 'x',
    });
    assert.equal(fromOptions.token, 'from the options, long');
    assert.deepEqual(fromOptions.listen, { host: '127.0.0.9', port: 1 });
    assert.equal(fromOptions.leaseTtl, 9);
    delete process.env.RUNTABLE_SECRET;
    delete process.env.RUNTABLE_LEASE_TTL;
    assert.equal(etcdSettings('etcd://a:1', { secret: 'x'.repeat(16) }).leaseTtl, DEFAULT_LEASE_TTL_S);
    assert.throws(() => etcdSettings('etcd://a:1', {}), { code: 'BAD_ARGUMENT' });
    assert.throws(() => etcdSettings('etcd://a:1', { secret: 'short' }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => etcdSettings('etcd://a:1', { secret: 'x'.repeat(16), leaseTtl: 0.5 }), {
      code: 'BAD_ARGUMENT',
    });
    process.env.RUNTABLE_TLS_CA = '/nonexistent/ca.pem';
    assert.throws(() => etcdSettings('etcd://a:1', {}), { code: 'BAD_ARGUMENT' }, 'the TLS variables go together');
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});

test('entries round-trip through their stored form; keys of other monikers and lines never meet', () => {
  const layout = new KeyLayout('rt');
  assert.equal(layout.entry('A/b'), 'rt/entries/A/b');
  assert.equal(layout.monikerOf('rt/entries/A/b'), 'A/b');
  assert.equal(layout.monikerOf('rt/queue/A/b'), undefined);
  assert.ok(!layout.place('A', '1').startsWith(layout.line('A/b')));
  assert.ok(!layout.place('A/b', '1').startsWith(layout.line('A')));
  const entry = {
    moniker: 'A/b',
    pid: 42,
    endpoint: 'tcp://10.0.0.5:4000',
    object: 3,
    methods: ['f', 'g'],
    metadata: { n: 1 },
    registeredAt: new Date(1000),
    changedAt: new Date(2000),
  };
  assert.deepEqual(decodeEntry(layout.entry('A/b'), encodeEntry(entry), layout), entry);
  assert.equal(decodeEntry(layout.entry('A/c'), encodeEntry(entry), layout), undefined);
});
