// Who may join a table: the table's token (a 0600 file in the table directory, carried in every
// Hello and checked by the broker and by owner endpoints), and connect()'s refusal of directories
// and token files that other users could reach. paths.test.ts has the directory checks themselves.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, RuntableError, type Table } from 'runtable';
import { BROKER_SOCKET } from '../../src/transport/paths.ts';
import { PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { TOKEN_BYTES, TOKEN_FILE, tableToken, tokenMatches, tokenPath } from '../../src/wire/token.ts';
import { cleanup, spawnFixture, tempTableDir } from '../helpers.ts';
import { type FailureMsg, hello, RawPeer } from '../raw-peer.ts';

/** Owned by nobody on any Linux; root can hand a file to it. */
const OTHER_UID = 65534;
const uid = process.getuid?.() ?? -1;

interface OwnerService {
  add(a: number, b: number): number;
}

let dir: string;
let tables: Table[] = [];
let peers: RawPeer[] = [];

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  for (const table of tables) await table.close();
  tables = [];
  await cleanup(dir);
});

async function open(options: Parameters<typeof connect>[0] = {}): Promise<Table> {
  const table = await connect({ dir, timeout: 10_000, ...options });
  tables.push(table);
  return table;
}

async function rawOpen(socketPath: string): Promise<RawPeer> {
  const peer = await RawPeer.open(socketPath);
  peers.push(peer);
  return peer;
}

function accessDenied(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, 'ACCESS_DENIED', error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

/**
 * Hellos that must not get in: no token, a wrong one of the right length, one a byte short, one
 * that differs only in its last digit, and the right token in upper case.
 */
function badHellos(socketPath: string): [string, Record<string, unknown>][] {
  const good = hello(socketPath);
  const token = good.token as string;
  const { token: _, ...noToken } = good;
  const lastFlipped = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
  return [
    ['no token', noToken],
    ['a wrong token', { ...good, token: 'f'.repeat(token.length) }],
    ['a token one digit short', { ...good, token: token.slice(1) }],
    ['a token off in its last digit', { ...good, token: lastFlipped }],
    ['the token in upper case', { ...good, token: token.toUpperCase() }],
    ['an empty token', { ...good, token: '' }],
  ];
}

/** Each bad Hello is refused with ACCESS_DENIED that does not give the token away; no Welcome. */
async function assertRefusesBadHellos(socketPath: string): Promise<void> {
  const token = hello(socketPath).token as string;
  for (const [what, message] of badHellos(socketPath)) {
    const peer = await rawOpen(socketPath);
    peer.send(message);
    const failure = (await peer.failure(0)) as FailureMsg;
    assert.equal(failure.error.code, 'ACCESS_DENIED', `${what}: ${JSON.stringify(failure.error)}`);
    assert.match(failure.error.message, /token/, what);
    assert.ok(!failure.error.message.includes(token), `${what}: the refusal does not hold the token`);
    assert.ok(!failure.error.message.includes(token.slice(0, 8)), `${what}: nor a part of it`);
    await peer.waitClosed();
    assert.equal(
      peer.inbox.some((m) => m.kind === 2),
      false,
      `${what}: no Welcome`,
    );
  }
  // A token that is not a string is malformed before it is wrong.
  const peer = await rawOpen(socketPath);
  peer.send({ ...hello(socketPath), token: 42 });
  assert.equal((await peer.failure(0)).error.code, 'PROTOCOL');
  await peer.waitClosed();
  // And the right one works on the same socket.
  const good = await RawPeer.handshaken(socketPath);
  peers.push(good);
}

describe('the table token', () => {
  it('is made at first connect: 64 hex digits in a 0600 file of ours, the same for every later connect', async () => {
    assert.equal(fs.existsSync(tokenPath(dir)), false);
    const table = await open();
    const file = path.join(dir, TOKEN_FILE);
    const stat = fs.lstatSync(file);
    assert.ok(stat.isFile());
    assert.equal((stat.mode & 0o777).toString(8), '600');
    assert.equal(stat.uid, uid);
    const token = fs.readFileSync(file, 'utf8');
    assert.match(token, new RegExp(`^[0-9a-f]{${TOKEN_BYTES * 2}}$`));
    await table.close();
    await open();
    assert.equal(fs.readFileSync(file, 'utf8'), token, 'a second connect keeps it');
    assert.deepEqual(
      fs.readdirSync(dir).filter((name) => name.startsWith(`${TOKEN_FILE}.`)),
      [],
      'no draft files left behind',
    );
  });

  it('is born 0600 whatever the umask', () => {
    const previous = process.umask(0o000);
    try {
      tableToken(dir);
    } finally {
      process.umask(previous);
    }
    assert.equal((fs.statSync(tokenPath(dir)).mode & 0o777).toString(8), '600');
  });

  it('eight processes making it at once agree on one token', async () => {
    const go = path.join(dir, 'go');
    const racers = Array.from({ length: 8 }, () => spawnFixture('token', [go], dir));
    fs.writeFileSync(go, '');
    const lines = await Promise.all(racers.map((r) => r.waitForLine(/^token [0-9a-f]+$/, 60_000)));
    const tokens = new Set(lines.map((line) => line.split(' ')[1]));
    assert.equal(tokens.size, 1, `one token, got ${[...tokens].join(', ')}`);
    assert.equal(fs.readFileSync(tokenPath(dir), 'utf8'), [...tokens][0]);
    assert.deepEqual(
      fs.readdirSync(dir).filter((name) => name.startsWith(`${TOKEN_FILE}.`)),
      [],
      'no draft files left behind',
    );
  });

  it('tokenMatches takes only the exact token', () => {
    const token = 'ab'.repeat(TOKEN_BYTES);
    assert.equal(tokenMatches(token, token), true);
    for (const given of [undefined, null, 42, '', token.slice(1), `${token}0`, token.toUpperCase(), ['x']]) {
      assert.equal(tokenMatches(given, token), false, JSON.stringify(given));
    }
  });
});

describe('the broker and owner endpoints check it', () => {
  it('the broker refuses a Hello without the right token with ACCESS_DENIED and serves the right one', async () => {
    const table = await open();
    await assertRefusesBadHellos(path.join(dir, BROKER_SOCKET));
    assert.deepEqual(await table.list(''), [], 'the table is unharmed');
  });

  it('an owner endpoint refuses a Hello without the right token with ACCESS_DENIED and serves the right one', async () => {
    const table = await open();
    const owner = spawnFixture('owner', ['X/a'], dir);
    await owner.waitForLine(/^ready \d+/);
    const broker = await RawPeer.handshaken(path.join(dir, BROKER_SOCKET));
    peers.push(broker);
    const entry = (await broker.request({ kind: 13, id: 1, moniker: 'X/a' })).value as { endpoint: string };
    await assertRefusesBadHellos(entry.endpoint);
    assert.equal(await (await table.get<OwnerService>('X/a')).add(2, 3), 5, 'calls still work');
  });

  it("a client whose token differs from the broker's is refused with ACCESS_DENIED, not retried forever", async () => {
    await open();
    // The file changes under a running broker, which keeps the token it started with.
    fs.writeFileSync(tokenPath(dir), 'c'.repeat(TOKEN_BYTES * 2), { mode: 0o600 });
    await assert.rejects(open(), accessDenied(/token/));
  });

  it('the handshake still names a version mismatch first, for a peer of the previous protocol', async () => {
    await open();
    const peer = await rawOpen(path.join(dir, BROKER_SOCKET));
    peer.send({ kind: 1, version: PROTOCOL_VERSION - 1, pid: process.pid });
    const failure = await peer.failure(0);
    assert.equal(failure.error.code, 'PROTOCOL');
    assert.match(failure.error.message, /version/);
  });
});

describe('connect() refuses what other users could reach', () => {
  it('a token file open to group or others, naming the file and the fix', async () => {
    await open();
    await tables.pop()?.close();
    fs.chmodSync(tokenPath(dir), 0o640);
    await assert.rejects(open(), accessDenied(/mode 0640.*remove it/));
  });

  it('a token file that is a symbolic link', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    fs.writeFileSync(elsewhere, 'd'.repeat(TOKEN_BYTES * 2), { mode: 0o600 });
    fs.symlinkSync(elsewhere, tokenPath(dir));
    await assert.rejects(open(), accessDenied(/not a regular file/));
  });

  it('a malformed token file', async () => {
    fs.writeFileSync(tokenPath(dir), 'not a token', { mode: 0o600 });
    await assert.rejects(open(), accessDenied(/malformed.*remove it/));
  });

  it('a token file owned by another user', { skip: uid !== 0 && 'needs root to chown' }, async () => {
    fs.writeFileSync(tokenPath(dir), 'e'.repeat(TOKEN_BYTES * 2), { mode: 0o600 });
    fs.chownSync(tokenPath(dir), OTHER_UID, OTHER_UID);
    await assert.rejects(open(), accessDenied(new RegExp(`uid ${OTHER_UID}`)));
  });

  it('a table directory owned by another user, naming the owner and the fix; no broker, no token', async () => {
    // Root can give a directory away; anyone else meets one that is not theirs in "/".
    const theirs = uid === 0 ? path.join(dir, 'theirs') : '/';
    if (uid === 0) {
      fs.mkdirSync(theirs, { mode: 0o700 });
      fs.chownSync(theirs, OTHER_UID, OTHER_UID);
    }
    await assert.rejects(connect({ dir: theirs }), accessDenied(/belongs to uid \d+.*RUNTABLE_DIR/));
    assert.equal(fs.existsSync(path.join(theirs, BROKER_SOCKET)), false);
    assert.equal(fs.existsSync(tokenPath(theirs)), false);
  });

  it('a table directory open to group or others, or a symbolic link; no broker, no token', async () => {
    for (const mode of [0o770, 0o707, 0o711, 0o777]) {
      const openDir = path.join(dir, `open-${mode.toString(8)}`);
      fs.mkdirSync(openDir);
      fs.chmodSync(openDir, mode);
      await assert.rejects(
        connect({ dir: openDir }),
        accessDenied(/open to other users .*holds no table; choose a directory of your own/),
      );
      assert.deepEqual(fs.readdirSync(openDir), [], `nothing made in a ${mode.toString(8)} directory`);
    }
    const real = path.join(dir, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(dir, 'link');
    fs.symlinkSync(real, link);
    await assert.rejects(connect({ dir: link }), accessDenied(/symbolic link.*RUNTABLE_DIR/));
    assert.deepEqual(fs.readdirSync(real), []);
  });
});
