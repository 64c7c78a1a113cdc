import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, RuntableError, type Table } from 'runtable';
import {
  BROKER_SOCKET,
  checkSocketPath,
  endpointSocketPath,
  MAX_SOCKET_PATH_BYTES,
  prepareTableDir,
  resolveTableDir,
  TOKEN_FILE,
} from '../../src/transport/paths.ts';
import { cleanup, tempTableDir } from '../helpers.ts';

const ENV_KEYS = ['RUNTABLE_DIR', 'XDG_RUNTIME_DIR', 'TMPDIR'] as const;

/** Sets (or, with undefined, unsets) environment variables for one test; `restore` puts them back. */
function envScope(): { set(key: (typeof ENV_KEYS)[number], value: string | undefined): void; restore(): void } {
  const saved = new Map(ENV_KEYS.map((key) => [key, process.env[key]]));
  return {
    set(key, value) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    },
    restore() {
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    },
  };
}

function accessDenied(dir: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, 'ACCESS_DENIED');
    assert.ok(error.message.includes(dir), `message names the path: ${error.message}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

const uid = process.getuid?.() ?? -1;

let dirs: string[] = [];
let tables: Table[] = [];
let env: ReturnType<typeof envScope>;

beforeEach(() => {
  env = envScope();
});

afterEach(async () => {
  env.restore();
  for (const table of tables) await table.close();
  tables = [];
  for (const dir of dirs) await cleanup(dir);
  dirs = [];
});

function tempDir(): string {
  const dir = tempTableDir();
  dirs.push(dir);
  return dir;
}

describe('resolveTableDir', () => {
  it('prefers the option, then RUNTABLE_DIR, then XDG_RUNTIME_DIR/runtable, then tmpdir/runtable-<uid>', () => {
    env.set('RUNTABLE_DIR', '/from/env');
    env.set('XDG_RUNTIME_DIR', '/run/user/4242');
    assert.equal(resolveTableDir('/from/option'), '/from/option');
    assert.equal(resolveTableDir('relative/dir'), path.resolve('relative/dir'), 'the option is made absolute');
    assert.equal(resolveTableDir(), '/from/env');
    env.set('RUNTABLE_DIR', 'rel-env');
    assert.equal(resolveTableDir(), path.resolve('rel-env'));
    env.set('RUNTABLE_DIR', undefined);
    assert.equal(resolveTableDir(), path.join('/run/user/4242', 'runtable'));
    env.set('XDG_RUNTIME_DIR', undefined);
    assert.equal(resolveTableDir(), path.join(os.tmpdir(), `runtable-${uid}`));
  });

  it('treats empty environment variables as unset', () => {
    env.set('RUNTABLE_DIR', '');
    env.set('XDG_RUNTIME_DIR', '');
    assert.equal(resolveTableDir(), path.join(os.tmpdir(), `runtable-${uid}`));
  });

  it('connect() uses tmpdir/runtable-<uid> when neither RUNTABLE_DIR nor XDG_RUNTIME_DIR is set', async () => {
    const tmp = tempDir();
    const fallback = path.join(tmp, `runtable-${uid}`);
    // cleanup() of the fallback kills its broker; the outer temp dir is removed after it.
    dirs.unshift(fallback);
    env.set('RUNTABLE_DIR', undefined);
    env.set('XDG_RUNTIME_DIR', undefined);
    env.set('TMPDIR', tmp);
    assert.equal(os.tmpdir(), tmp);
    const table = await connect();
    tables.push(table);
    assert.equal(table.dir, fallback);
    assert.equal(fs.statSync(fallback).mode & 0o777, 0o700);
    assert.ok(fs.statSync(path.join(fallback, BROKER_SOCKET)).isSocket());
    assert.equal((await table.status()).dir, fallback);
  });
});

describe('prepareTableDir', () => {
  it('creates a missing directory, and its parents, with mode 0700', () => {
    const dir = path.join(tempDir(), 'a', 'table');
    const previous = process.umask(0o022);
    try {
      prepareTableDir(dir);
    } finally {
      process.umask(previous);
    }
    const stat = fs.statSync(dir);
    assert.ok(stat.isDirectory());
    assert.equal(stat.mode & 0o777, 0o700);
    assert.equal(stat.uid, uid);
    prepareTableDir(dir); // an existing good directory is fine
  });

  it('refuses a table directory open to group or others, naming the path and the chmod fix', () => {
    for (const mode of [0o755, 0o770, 0o701, 0o707]) {
      const dir = path.join(tempDir(), 'open');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, TOKEN_FILE), 'x');
      fs.chmodSync(dir, mode);
      assert.throws(() => prepareTableDir(dir), accessDenied(dir, /chmod 700/), `mode ${mode.toString(8)}`);
    }
  });

  it('refuses a directory that holds no table, advising a directory of ones own, never chmod', () => {
    // Like --dir /etc: changing its mode would break what it is for.
    const dir = path.join(tempDir(), 'theirs');
    fs.mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
    fs.chmodSync(dir, 0o755);
    assert.throws(
      () => prepareTableDir(dir),
      (error: unknown) => {
        assert.ok(error instanceof RuntableError && error.code === 'ACCESS_DENIED');
        assert.match(error.message, /holds no table; choose a directory of your own/);
        assert.doesNotMatch(error.message, /chmod/);
        return true;
      },
    );
  });

  it('refuses at once a path where the file system will not make directories (procfs)', async () => {
    // Node's recursive mkdir retries such a path forever; these return with TABLE_UNAVAILABLE.
    for (const dir of ['/proc/runtable-test', `/proc/${process.pid}/runtable/table`]) {
      assert.throws(
        () => prepareTableDir(dir),
        (error: unknown) => {
          assert.ok(error instanceof RuntableError && error.code === 'TABLE_UNAVAILABLE', String(error));
          assert.match(error.message, new RegExp(`cannot create table directory ${dir}: .*directory of your own`));
          return true;
        },
      );
      await assert.rejects(connect({ dir }), { code: 'TABLE_UNAVAILABLE' });
    }
  });

  it('refuses a symbolic link, even to a good directory', () => {
    const base = tempDir();
    const real = path.join(base, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(base, 'link');
    fs.symlinkSync(real, link);
    assert.throws(() => prepareTableDir(link), accessDenied(link, /symbolic link/));
  });

  it('refuses a directory owned by another user', { skip: uid !== 0 && 'needs root to chown' }, () => {
    const dir = path.join(tempDir(), 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 12345, 12345);
    assert.throws(() => prepareTableDir(dir), accessDenied(dir, /12345/));
  });

  it('refuses a path that is a file', () => {
    const file = path.join(tempDir(), 'file');
    fs.writeFileSync(file, 'x');
    assert.throws(
      () => prepareTableDir(file),
      (error: unknown) => {
        assert.ok(error instanceof RuntableError);
        assert.ok(error.message.includes(file));
        return true;
      },
    );
  });

  it('connect() refuses a bad directory with ACCESS_DENIED and starts no broker', async () => {
    const dir = path.join(tempDir(), 'open');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, TOKEN_FILE), 'x');
    fs.chmodSync(dir, 0o755);
    await assert.rejects(connect({ dir }), accessDenied(dir, /chmod 700/));
    assert.equal(fs.existsSync(path.join(dir, BROKER_SOCKET)), false);
  });
});

describe('socket paths', () => {
  it('checkSocketPath accepts 107 bytes and refuses 108, naming the limit', () => {
    assert.equal(MAX_SOCKET_PATH_BYTES, 107);
    assert.doesNotThrow(() => checkSocketPath(`/${'a'.repeat(106)}`));
    const long = `/${'a'.repeat(107)}`;
    assert.throws(
      () => checkSocketPath(long),
      (error: unknown) => {
        assert.ok(error instanceof RuntableError);
        assert.match(error.message, /108 bytes/);
        assert.match(error.message, /107/);
        return true;
      },
    );
    // Bytes, not characters: 36 three-byte characters are 108 bytes.
    assert.throws(() => checkSocketPath(`€${'€'.repeat(35)}`));
  });

  it('connect() with a table directory too long for a socket path rejects with a clear error', async () => {
    const dir = path.join(tempDir(), 'd'.repeat(120));
    await assert.rejects(connect({ dir, timeout: 5000 }), (error: unknown) => {
      assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
      assert.equal(error.code, 'TABLE_UNAVAILABLE');
      assert.match(error.message, /107/);
      assert.ok(error.message.includes(dir), error.message);
      return true;
    });
    assert.deepEqual(
      fs.readdirSync(dir).filter((name) => name.endsWith('.sock')),
      [],
    );
  });

  it('register() refuses when the broker socket fits but the endpoint socket would not', async () => {
    const base = tempDir();
    // The endpoint's name holds our pid and a counter; take counter values until the next name is
    // longer than "broker.sock" (a short pid gives names of the same length).
    const nextEndpointName = () => {
      const [, pid, n] = /^o(\d+)-(\d+)\.sock$/.exec(path.basename(endpointSocketPath(base))) ?? [];
      return `o${pid}-${Number(n) + 1}.sock`;
    };
    let name = nextEndpointName();
    while (name.length <= BROKER_SOCKET.length) name = nextEndpointName();
    // Room for the broker's socket, one byte too little for the endpoint's.
    const room = MAX_SOCKET_PATH_BYTES - Buffer.byteLength(base) - 1 - 1 - name.length + 1;
    const dir = path.join(base, 'e'.repeat(room));
    dirs.unshift(dir); // cleanup() finds the broker by its exact --dir
    assert.equal(Buffer.byteLength(path.join(dir, name)), MAX_SOCKET_PATH_BYTES + 1);
    assert.ok(Buffer.byteLength(path.join(dir, BROKER_SOCKET)) <= MAX_SOCKET_PATH_BYTES);
    const table = await connect({ dir });
    tables.push(table);
    await assert.rejects(table.register('X/a', { ping: () => 'pong' }), (error: unknown) => {
      assert.ok(error instanceof RuntableError);
      assert.match(error.message, /107/);
      return true;
    });
    assert.deepEqual(await table.list(''), [], 'nothing was registered');
  });

  it('the broker socket and the owner endpoint socket are created with mode 0600', async () => {
    const dir = tempDir();
    const previous = process.umask(0o022);
    let table: Table;
    try {
      table = await connect({ dir });
      tables.push(table);
      await table.register('X/a', { ping: () => 'pong' });
    } finally {
      process.umask(previous);
    }
    assert.equal(process.umask(), previous, 'the umask is restored');
    const sockets = fs.readdirSync(dir).filter((name) => name.endsWith('.sock'));
    assert.ok(sockets.includes(BROKER_SOCKET), `broker socket among ${sockets}`);
    const endpoints = sockets.filter((name) => name !== BROKER_SOCKET);
    assert.equal(endpoints.length, 1, `one endpoint socket among ${sockets}`);
    assert.match(endpoints[0] as string, new RegExp(`^o${process.pid}-\\d+\\.sock$`));
    for (const name of sockets) {
      const stat = fs.statSync(path.join(dir, name));
      assert.ok(stat.isSocket(), `${name} is a socket`);
      assert.equal((stat.mode & 0o777).toString(8), '600', `${name} mode`);
      assert.equal(stat.uid, uid);
    }
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  });
});
