// Service files read and checked without running anything: where they are looked for, every
// field's rule, and the files that are refused with the reason a user can act on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import {
  DEFAULT_ACTIVATION_TIMEOUT_MS,
  MAX_SERVICE_FILE_BYTES,
  readServiceFile,
  readServices,
  serviceDirs,
  serviceFor,
} from '../../src/broker/service-files.ts';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-svcunit-'));
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown, mode = 0o600): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content), { mode });
  fs.chmodSync(file, mode);
  return file;
}

test('the directories: RUNTABLE_SERVICES, else XDG_CONFIG_HOME, else ~/.config', () => {
  assert.deepEqual(serviceDirs({ RUNTABLE_SERVICES: '/a::/b', XDG_CONFIG_HOME: '/x' }), ['/a', '/b']);
  assert.deepEqual(serviceDirs({ RUNTABLE_SERVICES: '' }), [], 'set but empty: no services');
  assert.deepEqual(serviceDirs({ XDG_CONFIG_HOME: '/x' }), ['/x/runtable/services']);
  assert.deepEqual(serviceDirs({}), [path.join(os.homedir(), '.config', 'runtable', 'services')]);
});

test('a well-formed file gives its service, with the defaults filled in', () => {
  const file = write('build.json', { monikers: ['Build/a', 'Build/b'], command: ['node', '/abs/d.js'] });
  const read = readServiceFile(file);
  assert.equal(read.problem, undefined);
  assert.deepEqual(read.service, {
    file,
    monikers: ['Build/a', 'Build/b'],
    command: ['node', '/abs/d.js'],
    env: {},
    timeout: DEFAULT_ACTIVATION_TIMEOUT_MS,
  });
  const full = write('full.json', {
    monikers: ['X/a'],
    command: ['/usr/bin/env', 'x'],
    cwd: '/tmp',
    env: { A: '1' },
    timeout: 500,
  });
  assert.deepEqual(readServiceFile(full).service?.env, { A: '1' });
  assert.equal(readServiceFile(full).service?.cwd, '/tmp');
});

test('each malformed file is refused with what is wrong, keeping the monikers it names', () => {
  const cases: [unknown, RegExp][] = [
    ['{', /is not valid JSON/],
    [[], /must hold a JSON object/],
    [{ monikers: ['A/b'] }, /"command" is missing/],
    [{ monikers: [], command: ['/x'] }, /"monikers" must be a non-empty array/],
    [{ monikers: ['A/\u0001'], command: ['/x'] }, /"monikers": /],
    [{ monikers: ['A/b'], command: [] }, /"command" must be a non-empty array of strings/],
    [{ monikers: ['A/b'], command: ['/x', 3] }, /"command" must be a non-empty array of strings/],
    [{ monikers: ['A/b'], command: ['./x'] }, /relative path \.\/x/],
    [{ monikers: ['A/b'], command: ['bin/x'] }, /relative path bin\/x/],
    [{ monikers: ['A/b'], command: ['/x'], cwd: 'rel' }, /"cwd" must be an absolute path/],
    [{ monikers: ['A/b'], command: ['/x'], env: { A: 1 } }, /"env" values must be strings/],
    [{ monikers: ['A/b'], command: ['/x'], timeout: 0 }, /"timeout" must be a whole number/],
    [{ monikers: ['A/b'], command: ['/x'], timeout: 1e9 }, /"timeout" must be a whole number/],
    [{ monikers: ['A/b'], command: ['/x'], restart: 'always' }, /unknown field "restart"/],
  ];
  for (const [i, [content, problem]] of cases.entries()) {
    const read = readServiceFile(write(`case${i}.json`, content));
    assert.equal(read.service, undefined, JSON.stringify(content));
    assert.match(read.problem ?? '', problem, JSON.stringify(content));
    assert.match(read.problem ?? '', new RegExp(`case${i}\\.json`), 'the problem names the file');
  }
  assert.deepEqual(readServiceFile(write('named.json', { monikers: ['A/b'] })).monikers, ['A/b']);
});

test('unsafe, oversized, linked or odd files are refused and never parsed into a service', () => {
  const good = { monikers: ['A/b'], command: ['/x'] };
  assert.match(
    readServiceFile(write('group.json', good, 0o620)).problem ?? '',
    /writable by group or others \(mode 0620\)/,
  );
  assert.match(readServiceFile(write('other.json', good, 0o602)).problem ?? '', /chmod go-w/);
  assert.equal(readServiceFile(write('readable.json', good, 0o644)).problem, undefined, 'readable by others is fine');
  assert.match(
    readServiceFile(write('big.json', ' '.repeat(MAX_SERVICE_FILE_BYTES + 1))).problem ?? '',
    /is over 65536 bytes/,
  );
  fs.symlinkSync(write('real.txt', good), path.join(dir, 'link.json'));
  assert.match(readServiceFile(path.join(dir, 'link.json')).problem ?? '', /symbolic link/);
  fs.mkdirSync(path.join(dir, 'adir.json'));
  assert.match(readServiceFile(path.join(dir, 'adir.json')).problem ?? '', /not a regular file/);
  assert.match(readServiceFile(path.join(dir, 'missing.json')).problem ?? '', /cannot be read \(ENOENT\)/);
});

test('readServices takes *.json in directory then name order; the first file naming a moniker wins', () => {
  const second = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-svcunit2-'));
  try {
    write('b.json', { monikers: ['Same/x', 'B/only'], command: ['/b'] });
    write('a.json', { monikers: ['Same/x'], command: ['/a'] });
    write('notes.txt', 'not a service');
    fs.writeFileSync(path.join(second, 'a.json'), JSON.stringify({ monikers: ['Same/x'], command: ['/second'] }), {
      mode: 0o600,
    });
    const reads = readServices([dir, path.join(dir, 'nowhere'), second]);
    assert.deepEqual(
      reads.map((read) => path.relative(os.tmpdir(), read.file).split(path.sep).slice(1).join('/')),
      ['a.json', 'b.json', 'a.json'],
    );
    assert.deepEqual(serviceFor(reads, 'Same/x')?.service?.command, ['/a']);
    assert.deepEqual(serviceFor(reads, 'B/only')?.service?.command, ['/b']);
    assert.equal(serviceFor(reads, 'None/x'), undefined);
  } finally {
    fs.rmSync(second, { recursive: true, force: true });
  }
});
