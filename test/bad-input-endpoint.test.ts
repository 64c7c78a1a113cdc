// Bad input to an owner's endpoint, over a raw socket and through the public API: only exposed
// methods ever run, every refusal has a code, and the owner goes on serving.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, RuntableError, type Table } from 'runtable';
import { MAX_FRAME_BYTES as MAX_CALL_FRAME_BYTES } from '../src/transport/framing.ts';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from './helpers.ts';
import { type FailureMsg, hello, RawPeer } from './raw-peer.ts';

/** Names a peer might try that no object exposes. */
const FORBIDDEN = [
  'constructor',
  '__proto__',
  '_secret',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'isPrototypeOf',
  'nonexistent',
  '',
];

class Service {
  ran: string[] = [];
  greet(name: string): string {
    this.ran.push('greet');
    return `hi ${name}`;
  }
  _hidden(): string {
    this.ran.push('_hidden');
    return 'hidden';
  }
  get sneaky(): () => string {
    this.ran.push('sneaky getter');
    return () => 'sneaky';
  }
}

/** What test/fixtures/owner.ts serves. */
interface OwnerService {
  echo<T>(value: T): T;
  add(a: number, b: number): number;
  calls(): number;
}

let dir: string;
let table: Table;
let tables: Table[] = [];
let peers: RawPeer[] = [];

beforeEach(async () => {
  dir = tempTableDir();
  table = await connect({ dir, timeout: 10_000 });
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  for (const t of tables) await t.close();
  tables = [];
  await table.close();
  await cleanup(dir);
});

/** Where `moniker` is served, from the broker's own answer, checked against the sockets in the dir. */
async function locate(moniker: string): Promise<{ endpoint: string; object: number }> {
  const broker = await RawPeer.handshaken(path.join(dir, 'broker.sock'));
  peers.push(broker);
  const reply = await broker.request({ kind: 13, id: 1, moniker });
  const entry = reply.value as { endpoint: string; object: number; pid: number } | null;
  assert.ok(entry, `${moniker} is registered`);
  const endpoints = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.sock') && name !== 'broker.sock')
    .map((name) => path.join(dir, name));
  assert.ok(endpoints.includes(entry.endpoint), `${entry.endpoint} among ${endpoints}`);
  assert.match(path.basename(entry.endpoint), new RegExp(`^o${entry.pid}-`));
  return entry;
}

async function rawEndpoint(endpoint: string): Promise<RawPeer> {
  const peer = await RawPeer.handshaken(endpoint);
  peers.push(peer);
  return peer;
}

function assertFailure(message: unknown, id: number, code: string): void {
  const failure = message as FailureMsg;
  assert.equal(failure.kind, 41, `expected a Failure, got ${JSON.stringify(message)}`);
  assert.equal(failure.id, id);
  assert.equal(failure.error.code, code, JSON.stringify(failure.error));
  assert.ok(failure.error.message.length > 0);
}

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

type Loose = Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;

/** Calls `method` on a proxy by name, whatever its type says. */
/**
 * Names the proxy answers itself, without a call (constructor and Object.prototype's names, which
 * no object exposes; see proxy.ts): through a proxy they are local, on the wire they are refused.
 */
const LOCAL_TO_PROXY = new Set(
  FORBIDDEN.filter((name) => name === 'constructor' || Object.hasOwn(Object.prototype, name)),
);

/** Through a proxy: a name it forwards rejects NO_SUCH_METHOD; one it answers itself sends nothing. */
async function refusedThroughProxy(remote: unknown, method: string): Promise<void> {
  if (LOCAL_TO_PROXY.has(method)) {
    const member = (remote as Loose)[method];
    if (typeof member === 'function') (member as () => unknown)();
    return;
  }
  await assert.rejects(callByName(remote, method), rejectsWith('NO_SUCH_METHOD'), method);
}

function callByName(remote: unknown, method: string, ...args: unknown[]): Promise<unknown> {
  const fn = (remote as Loose)[method];
  assert.equal(typeof fn, 'function', `the proxy offers ${method}`);
  return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
}

async function startFixture(): Promise<Fixture> {
  const fixture = spawnFixture('owner', ['X/a'], dir);
  await fixture.waitForLine(/^ready \d+/);
  return fixture;
}

describe('endpoint: calls to methods that are not exposed', () => {
  it('an in-process owner refuses them with NO_SUCH_METHOD, runs nothing, and leaves Object.prototype alone', async () => {
    const protoKeys = Reflect.ownKeys(Object.prototype);
    const protoValues = protoKeys.map((key) => (Object.prototype as Record<PropertyKey, unknown>)[key]);
    const service = Object.assign(new Service(), { _secret: () => 'never', own: () => 'own' });
    const reg = await table.register('X/in', service);
    assert.deepEqual(reg.entry.methods, ['greet', 'own']);
    const { endpoint, object } = await locate('X/in');
    const peer = await rawEndpoint(endpoint);
    let id = 0;
    for (const method of [...FORBIDDEN, '_hidden', 'sneaky', 'ran']) {
      const answer = await peer.request({ kind: 30, id: ++id, target: object, method, args: [] });
      assertFailure(answer, id, 'NO_SUCH_METHOD');
    }
    assert.deepEqual(service.ran, [], 'no method and no getter ran');
    // Trying to pollute through the arguments changes nothing either.
    const polluting = { ['__proto__']: { polluted: true }, constructor: { prototype: { polluted: true } } };
    const reply = await peer.request({ kind: 30, id: ++id, target: object, method: 'greet', args: [polluting] });
    assert.equal(reply.kind, 40);
    assert.deepEqual(Reflect.ownKeys(Object.prototype), protoKeys, 'no new keys on Object.prototype');
    assert.deepEqual(
      protoKeys.map((key) => (Object.prototype as Record<PropertyKey, unknown>)[key]),
      protoValues,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // The same raw connection still serves exposed methods.
    const ok = await peer.request({ kind: 30, id: ++id, target: object, method: 'greet', args: ['you'] });
    assert.deepEqual([ok.kind, ok.value], [40, 'hi you']);
    assert.equal((await peer.request({ kind: 30, id: ++id, target: object, method: 'own', args: [] })).value, 'own');
  });

  it('a fixture owner refuses them with NO_SUCH_METHOD and still serves normal calls afterwards', async () => {
    const fixture = await startFixture();
    const { endpoint, object } = await locate('X/a');
    assert.match(path.basename(endpoint), new RegExp(`^o${fixture.pid}-`));
    const peer = await rawEndpoint(endpoint);
    let id = 10;
    for (const method of FORBIDDEN) {
      assertFailure(await peer.request({ kind: 30, id: ++id, target: object, method, args: [] }), id, 'NO_SUCH_METHOD');
    }
    const sum = await peer.request({ kind: 30, id: ++id, target: object, method: 'add', args: [2, 3] });
    assert.deepEqual([sum.kind, sum.value], [40, 5]);
    const remote = await table.get<OwnerService>('X/a');
    assert.equal(await remote.add(40, 2), 42);
  });

  it('a Call to an unknown target id is NOT_REGISTERED, and the owner goes on', async () => {
    await startFixture();
    const { endpoint, object } = await locate('X/a');
    const peer = await rawEndpoint(endpoint);
    for (const [i, target] of [object + 1000, 0, 2 ** 31].entries()) {
      const answer = await peer.request({ kind: 30, id: 50 + i, target, method: 'add', args: [1, 1] });
      assertFailure(answer, 50 + i, 'NOT_REGISTERED');
    }
    const sum = await peer.request({ kind: 30, id: 60, target: object, method: 'add', args: [1, 1] });
    assert.equal(sum.value, 2);
    assert.equal(await (await table.get<OwnerService>('X/a')).add(1, 2), 3);
  });
});

describe('endpoint: malformed input', () => {
  it('unknown kinds, wrong field types and bad CBOR get PROTOCOL, and the connection stays usable', async () => {
    await startFixture();
    const { endpoint, object } = await locate('X/a');
    const peer = await rawEndpoint(endpoint);
    peer.send({ kind: 99, id: 5 });
    assertFailure(await peer.failure(5), 5, 'PROTOCOL');
    assertFailure(await peer.request({ kind: 30, id: 6, target: object, method: 'add', args: 'x' }), 6, 'PROTOCOL');
    assertFailure(await peer.request({ kind: 30, id: 7, target: object, method: 42, args: [] }), 7, 'PROTOCOL');
    assertFailure(await peer.request({ kind: 12, id: 8, prefix: '' }), 8, 'PROTOCOL');
    assertFailure(await peer.request({ kind: 22, id: 10, prefix: '' }), 10, 'PROTOCOL');
    peer.sendFrame(Buffer.from([0x1c, 0x00]));
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    const sum = await peer.request({ kind: 30, id: 9, target: object, method: 'add', args: [4, 5] });
    assert.deepEqual([sum.kind, sum.value], [40, 9]);
  });

  it('a wrong protocol version is refused with PROTOCOL and the connection closed', async () => {
    await startFixture();
    const { endpoint } = await locate('X/a');
    const peer = await RawPeer.open(endpoint);
    peers.push(peer);
    peer.send({ ...hello(endpoint), version: 999 });
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    await peer.waitClosed();
    assert.equal(await (await table.get<OwnerService>('X/a')).add(2, 2), 4);
  });

  it('a length prefix over the endpoint limit: FRAME_TOO_LARGE, closed, and other clients unharmed', async () => {
    await startFixture();
    const { endpoint } = await locate('X/a');
    const remote = await table.get<OwnerService>('X/a');
    assert.equal(await remote.add(1, 1), 2, 'a client connected before the bad peer');
    const peer = await rawEndpoint(endpoint);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_CALL_FRAME_BYTES + 1, 0);
    peer.writeRaw(header);
    assertFailure(await peer.failure(0), 0, 'FRAME_TOO_LARGE');
    await peer.waitClosed();
    assert.equal(await remote.add(2, 2), 4, 'the earlier client is unharmed');
    const other = await connect({ dir, timeout: 10_000 });
    tables.push(other);
    assert.equal(await (await other.get<OwnerService>('X/a')).add(3, 3), 6, 'a new client is served');
  });
});

describe('public API: calls to methods that are not exposed', () => {
  it('proxy calls to hidden or missing methods reject with NO_SUCH_METHOD', async () => {
    await startFixture();
    const remote = await table.get<OwnerService>('X/a');
    assert.equal(remote.constructor, undefined, 'a proxy has no constructor to call');
    for (const method of FORBIDDEN) await refusedThroughProxy(remote, method);
    assert.equal(await remote.echo('still here'), 'still here');
  });

  it('an in-process object refuses hidden methods through the proxy too', async () => {
    const service = Object.assign(new Service(), { _secret: () => 'never' });
    await table.register('X/in', service);
    const other = await connect({ dir, timeout: 10_000 });
    tables.push(other);
    const remote = await other.get<Service>('X/in');
    for (const method of [...FORBIDDEN, '_hidden', 'sneaky']) await refusedThroughProxy(remote, method);
    assert.deepEqual(service.ran, []);
    assert.equal(await remote.greet('me'), 'hi me');
  });
});
