// A table directory nothing can be created in: its parent is a regular file, it is full, or it
// is not writable. connect() and register() fail with a RuntableError that names the directory,
// never a bare errno. Root ignores permissions, so as root "full" is a tiny tmpfs of our own.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { connect, RuntableError } from 'runtable';
import { brokerPids, tempTableDir, waitFor } from '../helpers.ts';

const isRoot = process.getuid?.() === 0;
let base: string;
let dir: string;
let mounted = false;

beforeEach(() => {
  base = tempTableDir();
  dir = path.join(base, 't');
  fs.mkdirSync(dir, { mode: 0o700 });
});

afterEach(async () => {
  for (const pid of brokerPids(dir)) process.kill(pid, 'SIGKILL');
  await waitFor(() => brokerPids(dir).length === 0, 5000, 'brokers to exit');
  if (mounted) execFileSync('umount', ['-l', dir]);
  mounted = false;
  fs.chmodSync(dir, 0o700);
  fs.rmSync(base, { recursive: true, force: true });
});

/**
 * Makes `dir` refuse new files: as root a tmpfs of `inodes` inodes over it (mount must be
 * allowed), else mode 0500. Returns a function that takes up whatever room is left.
 */
function confine(inodes: number): () => void {
  if (!isRoot) {
    return () => fs.chmodSync(dir, 0o500);
  }
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=64k,nr_inodes=${inodes},mode=0700`, 'tmpfs', dir]);
  mounted = true;
  return () => {
    for (let n = 0; ; n++) {
      try {
        fs.writeFileSync(path.join(dir, `filler-${n}`), '');
      } catch {
        return;
      }
    }
  };
}

function assertNamesDir(error: unknown): true {
  assert.ok(error instanceof RuntableError, `a RuntableError, not ${error}`);
  assert.equal(error.code, 'TABLE_UNAVAILABLE');
  assert.ok(error.message.includes(dir), `the message names ${dir}: ${error.message}`);
  return true;
}

test('a table directory whose parent is a regular file: TABLE_UNAVAILABLE naming it', async () => {
  const file = path.join(base, 'file');
  fs.writeFileSync(file, '');
  dir = path.join(file, 'table');
  await assert.rejects(connect({ dir }), assertNamesDir);
  dir = path.join(base, 't');
});

test('a full or unwritable table directory at start: connect fails with TABLE_UNAVAILABLE naming it', async () => {
  confine(1)();
  await assert.rejects(connect({ dir, timeout: 5000 }), (error) => {
    assertNamesDir(error);
    assert.match((error as Error).message, /cannot write in table directory/);
    return true;
  });
  assert.deepEqual(brokerPids(dir), [], 'no broker started');
});

test('a table directory that fills up after connect: register fails with TABLE_UNAVAILABLE naming it', async () => {
  const fill = confine(64);
  const table = await connect({ dir });
  try {
    assert.deepEqual(await table.list(), []);
    fill();
    await assert.rejects(table.register('Full/a', { f() {} }), assertNamesDir);
    // Naming still works: only new files are refused.
    assert.deepEqual(await table.list(), []);
  } finally {
    await table.close();
  }
});
