// Bad input to the broker, over a raw socket: every malformed thing a peer can send gets a
// Failure with a code, the offending connection may be dropped, and the broker and every other
// connection go on. The owner endpoint's side is in bad-input-endpoint.test.ts.

import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, type Registration, RuntableError, type Table } from 'runtable';
import { unpackEntries } from '../src/naming/entry-batch.ts';
import { MAX_FRAME_BYTES as MAX_CONTROL_FRAME_BYTES } from '../src/transport/framing.ts';
import { encode } from '../src/wire/codec.ts';
import { PROTOCOL_VERSION } from '../src/wire/protocol.ts';
import { cleanup, tempTableDir, waitFor } from './helpers.ts';
import { type FailureMsg, hello, RawPeer } from './raw-peer.ts';

const BAD_MONIKERS: [string, string][] = [
  ['', 'empty'],
  ['a'.repeat(513), '513 bytes'],
  ['a\u0000b', 'a NUL'],
  ['a\nb', 'a newline'],
];
/** Exactly 512 bytes of UTF-8: 2 + 3 + 4 byte characters and ASCII. */
const MONIKER_512 = `big/${'é'.repeat(100)}${'€'.repeat(50)}${'🎉'.repeat(20)}${'x'.repeat(78)}`;

interface Pinger {
  ping(x: unknown): unknown[];
}
interface Twicer {
  twice(n: number): number;
}
interface Greeter {
  hello(name: string): string;
}

let dir: string;
let bystander: Table;
let bystanderReg: Registration;
let peers: RawPeer[] = [];
let extraTables: Table[] = [];

beforeEach(async () => {
  dir = tempTableDir();
  // An innocent client and owner, connected before any bad input, that must not notice any.
  bystander = await connect({ dir, timeout: 10_000 });
  bystanderReg = await bystander.register('bystander/1', { ping: (x: unknown) => ['pong', x] });
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  for (const table of extraTables) await table.close();
  extraTables = [];
  await bystander.close();
  await cleanup(dir);
});

async function raw(handshake = true): Promise<RawPeer> {
  const socket = path.join(dir, 'broker.sock');
  const peer = handshake ? await RawPeer.handshaken(socket) : await RawPeer.open(socket);
  peers.push(peer);
  return peer;
}

function assertFailure(message: FailureMsg, id: number, code: string): void {
  assert.equal(message.kind, 41);
  assert.equal(message.id, id);
  assert.equal(message.error.code, code, `error ${JSON.stringify(message.error)}`);
  assert.equal(typeof message.error.message, 'string');
  assert.ok(message.error.message.length > 0, 'the failure says what happened');
}

/** The bystander's connection still works, and a fresh client can list, register and call. */
async function assertUnharmed(): Promise<void> {
  assert.ok(bystanderReg.active, 'the bystander registration is still active');
  assert.deepEqual(
    (await bystander.list('bystander/')).map((e) => e.moniker),
    ['bystander/1'],
  );
  const fresh = await connect({ dir, timeout: 10_000 });
  extraTables.push(fresh);
  assert.ok(await fresh.isRunning('bystander/1'));
  const remote = await fresh.get<Pinger>('bystander/1');
  assert.deepEqual(await remote.ping(7), ['pong', 7]);
  const reg = await fresh.register('fresh/1', { twice: (n: number) => n * 2 });
  assert.deepEqual(
    (await bystander.list('fresh/')).map((e) => e.moniker),
    ['fresh/1'],
  );
  assert.equal(await (await bystander.get<Twicer>('fresh/1')).twice(21), 42);
  await reg.revoke();
}

/** A List on this raw connection still gets its reply. */
async function assertRawUsable(peer: RawPeer, id = 1000): Promise<void> {
  const reply = await peer.request({ kind: 12, id, prefix: 'bystander/' });
  assert.equal(reply.kind, 40, `List answered with ${JSON.stringify(reply)}`);
  assert.deepEqual(
    unpackEntries(reply.value).map((e) => e.moniker),
    ['bystander/1'],
  );
}

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe('broker: bad handshakes', () => {
  it('answers a correct Hello with Welcome', async () => {
    const peer = await raw(false);
    peer.send(hello(path.join(dir, 'broker.sock')));
    const welcome = await peer.next();
    assert.equal(welcome.kind, 2);
    assert.equal(welcome.version, PROTOCOL_VERSION);
    assert.equal(typeof welcome.pid, 'number');
    assert.equal(welcome.pid, (await bystander.status()).pid);
  });

  it('garbage text instead of a handshake: FRAME_TOO_LARGE failure, connection closed', async () => {
    const peer = await raw(false);
    peer.writeRaw(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assertFailure(await peer.failure(0), 0, 'FRAME_TOO_LARGE');
    await peer.waitClosed();
    await assertUnharmed();
  });

  it('a frame of non-CBOR bytes instead of a handshake: PROTOCOL failure, connection closed', async () => {
    const peer = await raw(false);
    peer.sendFrame(Buffer.from([0xff, 0xfe, 0xfd, 0x1c, 0x00]));
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    await peer.waitClosed();
    await assertUnharmed();
  });

  it('a request before the handshake: PROTOCOL failure, connection closed', async () => {
    const peer = await raw(false);
    peer.send({ kind: 12, id: 1, prefix: '' });
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    await peer.waitClosed();
    assert.equal(peer.inbox.length, 0, 'the List was not answered');
    await assertUnharmed();
  });

  it('a Hello with a wrong protocol version: PROTOCOL failure naming both versions, connection closed', async () => {
    const peer = await raw(false);
    peer.send({ ...hello(path.join(dir, 'broker.sock')), version: PROTOCOL_VERSION + 1 });
    const failure = await peer.failure(0);
    assertFailure(failure, 0, 'PROTOCOL');
    assert.match(failure.error.message, /version/);
    assert.match(failure.error.message, new RegExp(`\\b${PROTOCOL_VERSION + 1}\\b`));
    assert.match(failure.error.message, new RegExp(`\\b${PROTOCOL_VERSION}\\b`));
    await peer.waitClosed();
    assert.equal(
      peer.inbox.some((m) => m.kind === 2),
      false,
      'no Welcome',
    );
    await assertUnharmed();
  });
});

describe('broker: bad frames', () => {
  it('a length prefix over the 1 MiB limit: FRAME_TOO_LARGE failure, then the connection closes and its entries go', async () => {
    const peer = await raw();
    const registered = await peer.request({
      kind: 10,
      id: 1,
      moniker: 'raw/x',
      endpoint: path.join(dir, 'nowhere.sock'),
      object: 1,
      methods: ['m'],
      metadata: {},
    });
    assert.equal(registered.kind, 40);
    assert.ok(await bystander.isRunning('raw/x'));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_CONTROL_FRAME_BYTES + 1, 0);
    peer.writeRaw(header);
    const failure = await peer.failure(0);
    assertFailure(failure, 0, 'FRAME_TOO_LARGE');
    assert.match(failure.error.message, new RegExp(String(MAX_CONTROL_FRAME_BYTES)));
    await peer.waitClosed();
    await waitFor(async () => !(await bystander.isRunning('raw/x')), 5000, 'raw/x to be revoked');
    await assertUnharmed();
  });

  it('a frame of exactly the limit is accepted', async () => {
    const peer = await raw();
    const message = (pad: number) => ({ kind: 12, id: 3, prefix: 'bystander/', pad: Buffer.alloc(pad) });
    const overhead = encode(message(100_000)).length - 100_000;
    const frame = encode(message(MAX_CONTROL_FRAME_BYTES - overhead));
    assert.equal(frame.length, MAX_CONTROL_FRAME_BYTES);
    peer.sendFrame(frame);
    const reply = await peer.answer(3, 10_000);
    assert.equal(reply.kind, 40);
    await assertRawUsable(peer);
  });

  it('a good frame whose header and body arrive in separate reads is read correctly', async () => {
    // Not bad input at all: a peer may well write a length and its body separately. Each write
    // here ends with the next frame's header; its body is sent only once the reply shows the
    // broker has read that chunk, so the broker sees a chunk ending exactly after a header.
    const peer = await raw();
    const header = (body: Uint8Array) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(body.length, 0);
      return bytes;
    };
    const bodies = Array.from({ length: 5 }, (_, i) => encode({ kind: 12, id: i + 1, prefix: 'bystander/' }));
    for (const [i, body] of bodies.entries()) {
      const next = bodies[i + 1];
      const parts = [...(i === 0 ? [header(body)] : []), body, ...(next ? [header(next)] : [])];
      peer.writeRaw(Buffer.concat(parts));
      const reply = await peer.answer(i + 1);
      assert.equal(reply.kind, 40, `request ${i + 1} answered with ${JSON.stringify(reply)}`);
    }
    await assertUnharmed();
  });

  it('a frame that is not valid CBOR: PROTOCOL failure, and the connection stays usable', async () => {
    const peer = await raw();
    const junk = [[0x1c], [0xff], [0x62, 0x61], [0x01, 0x02], [0xbf, 0x61]];
    for (const bytes of junk) {
      peer.sendFrame(Buffer.from(bytes));
      assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    }
    assert.equal(peer.isClosed, false);
    await assertRawUsable(peer, 7);
    await assertUnharmed();
  });

  it('CBOR that is not a map: PROTOCOL failure, and the connection stays usable', async () => {
    const peer = await raw();
    for (const value of [42, 'List', [12, 1, ''], null]) {
      peer.send(value);
      assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    }
    await assertRawUsable(peer);
  });
});

describe('broker: bad messages', () => {
  it('an unknown message kind gets a PROTOCOL failure with its id', async () => {
    const peer = await raw();
    peer.send({ kind: 99, id: 5 });
    assertFailure(await peer.failure(5), 5, 'PROTOCOL');
    await assertRawUsable(peer);
    await assertUnharmed();
  });

  it('a message the broker does not take (Call, Lost, Hello again) gets a PROTOCOL failure', async () => {
    const peer = await raw();
    peer.send({ kind: 30, id: 6, target: 1, method: 'ping', args: [] });
    assertFailure(await peer.failure(6), 6, 'PROTOCOL');
    peer.send({ kind: 21, moniker: 'bystander/1' });
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    assert.ok(bystanderReg.active, 'a forged Lost does not take the bystander its name');
    peer.send(hello(path.join(dir, 'broker.sock')));
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    await assertRawUsable(peer);
    await assertUnharmed();
  });

  it('wrong field types get a PROTOCOL failure with the request id', async () => {
    const peer = await raw();
    assertFailure((await peer.request({ kind: 12, id: 8, prefix: 42 })) as unknown as FailureMsg, 8, 'PROTOCOL');
    assertFailure((await peer.request({ kind: 22, id: 8, prefix: 42 })) as unknown as FailureMsg, 8, 'PROTOCOL');
    assertFailure(
      (await peer.request({ kind: 22, id: 8, prefix: 'bad\u0001' })) as unknown as FailureMsg,
      8,
      'BAD_MONIKER',
    );
    const register = {
      kind: 10,
      id: 9,
      moniker: 'raw/y',
      endpoint: path.join(dir, 'nowhere.sock'),
      object: 1,
      methods: 'x',
      metadata: {},
    };
    assertFailure((await peer.request(register)) as unknown as FailureMsg, 9, 'PROTOCOL');
    assertFailure((await peer.request({ ...register, id: 10, methods: [], metadata: [1] })) as never, 10, 'PROTOCOL');
    assertFailure((await peer.request({ kind: 13, id: 11, moniker: null })) as never, 11, 'PROTOCOL');
    peer.send({ kind: 12, id: 'twelve', prefix: '' });
    assertFailure(await peer.failure(0), 0, 'PROTOCOL');
    assert.equal(await bystander.isRunning('raw/y'), false);
    await assertRawUsable(peer);
    await assertUnharmed();
  });

  it('oversized metadata and too many methods get BAD_ARGUMENT', async () => {
    const peer = await raw();
    const register = { kind: 10, moniker: 'raw/z', endpoint: path.join(dir, 'x.sock'), object: 1, methods: ['m'] };
    const big = await peer.request({ ...register, id: 1, metadata: { blob: 'x'.repeat(20_000) } });
    assertFailure(big as never, 1, 'BAD_ARGUMENT');
    const many = Array.from({ length: 1025 }, (_, i) => `m${i}`);
    assertFailure(
      (await peer.request({ ...register, id: 2, metadata: {}, methods: many })) as never,
      2,
      'BAD_ARGUMENT',
    );
    assert.equal(await bystander.isRunning('raw/z'), false);
    await assertRawUsable(peer);
  });
});

describe('bad monikers', () => {
  it('the broker refuses them in Register, Lookup, List and Watch with BAD_MONIKER', async () => {
    const peer = await raw();
    let id = 100;
    for (const [moniker, what] of BAD_MONIKERS) {
      const register = { kind: 10, id: ++id, moniker, endpoint: path.join(dir, 'x.sock'), object: 1, methods: [] };
      const answers = [
        await peer.request({ ...register, metadata: {} }),
        await peer.request({ kind: 13, id: ++id, moniker }),
      ];
      if (moniker !== '') {
        answers.push(await peer.request({ kind: 12, id: ++id, prefix: moniker }));
        answers.push(await peer.request({ kind: 15, id: ++id, prefix: moniker }));
      }
      for (const answer of answers) {
        assert.equal(answer.kind, 41, `${what}: ${JSON.stringify(answer)}`);
        assert.equal((answer as unknown as FailureMsg).error.code, 'BAD_MONIKER', what);
      }
    }
    assert.deepEqual(
      (await bystander.list('')).map((e) => e.moniker),
      ['bystander/1'],
    );
    await assertRawUsable(peer);
    await assertUnharmed();
  });

  it('the broker refuses them in Revoke and Touch with BAD_MONIKER too', async () => {
    const peer = await raw();
    let id = 200;
    for (const [moniker, what] of BAD_MONIKERS) {
      for (const kind of [11, 14]) {
        const answer = await peer.request({ kind, id: ++id, moniker });
        assert.equal(answer.kind, 41, `${what} in kind ${kind}: ${JSON.stringify(answer)}`);
        assert.equal((answer as unknown as FailureMsg).error.code, 'BAD_MONIKER', `${what} in kind ${kind}`);
      }
    }
  });

  it('the broker accepts a moniker of exactly 512 bytes of UTF-8', async () => {
    assert.equal(Buffer.byteLength(MONIKER_512), 512);
    const peer = await raw();
    const reply = await peer.request({
      kind: 10,
      id: 1,
      moniker: MONIKER_512,
      endpoint: path.join(dir, 'x.sock'),
      object: 1,
      methods: [],
      metadata: {},
    });
    assert.equal(reply.kind, 40, JSON.stringify(reply));
    const lookup = await peer.request({ kind: 13, id: 2, moniker: MONIKER_512 });
    assert.equal((lookup.value as { moniker: string }).moniker, MONIKER_512);
    assert.ok(await bystander.isRunning(MONIKER_512));
  });

  it('the public API refuses them with BAD_MONIKER', async () => {
    const table = bystander;
    for (const [moniker, what] of BAD_MONIKERS) {
      await assert.rejects(table.register(moniker, { m() {} }), rejectsWith('BAD_MONIKER'), `register ${what}`);
      await assert.rejects(table.lookup(moniker), rejectsWith('BAD_MONIKER'), `lookup ${what}`);
      await assert.rejects(table.isRunning(moniker), rejectsWith('BAD_MONIKER'), `isRunning ${what}`);
      await assert.rejects(table.get(moniker), rejectsWith('BAD_MONIKER'), `get ${what}`);
      if (moniker === '') continue; // the empty prefix lists everything
      await assert.rejects(table.list(moniker), rejectsWith('BAD_MONIKER'), `list ${what}`);
      assert.throws(() => table.watch(moniker), rejectsWith('BAD_MONIKER'), `watch ${what}`);
    }
    await assertUnharmed();
  });

  it('the public API accepts a 512-byte moniker end to end', async () => {
    const reg = await bystander.register(MONIKER_512, { hello: (name: string) => `hello ${name}` });
    assert.equal(reg.moniker, MONIKER_512);
    assert.deepEqual(
      (await bystander.list('big/')).map((e) => e.moniker),
      [MONIKER_512],
    );
    const fresh = await connect({ dir, timeout: 10_000 });
    extraTables.push(fresh);
    assert.equal(await (await fresh.get<Greeter>(MONIKER_512)).hello('there'), 'hello there');
    await reg.revoke();
    assert.equal(await fresh.isRunning(MONIKER_512), false);
  });
});
