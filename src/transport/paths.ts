// Where a table lives on disk, and the checks that keep other users out of it. All path
// handling is here, so that a Windows port (named pipes under \\.\pipe\) is this file's work.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RuntableError } from '../errors.js';

/**
 * sockaddr_un.sun_path holds 108 bytes with the terminating NUL; Node 20 silently truncates a
 * longer path and then binds or connects to the wrong name.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

export const BROKER_SOCKET = 'broker.sock';
export const BROKER_LOCK = 'broker.lock';
export const BROKER_LOG = 'broker.log';
/** The table's token (see token.ts), made by the first connect(). */
export const TOKEN_FILE = 'token';

/** The table directory: the option, else RUNTABLE_DIR, else XDG_RUNTIME_DIR, else tmpdir. */
export function resolveTableDir(option?: string): string {
  if (option) return path.resolve(option);
  const fromEnv = process.env.RUNTABLE_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime) return path.join(runtime, 'runtable');
  return path.join(os.tmpdir(), `runtable-${process.getuid?.() ?? 'user'}`);
}

/**
 * Creates the directory (mode 0700) if needed and refuses one that another user could enter:
 * a symlink, someone else's, or open to group or others.
 */
export function prepareTableDir(dir: string): void {
  try {
    makeDirectories(dir);
  } catch (error) {
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      `cannot create table directory ${dir}: ${(error as Error).message}; choose a directory of your own (RUNTABLE_DIR)`,
      { cause: error },
    );
  }
  const stat = fs.lstatSync(dir);
  if (stat.isSymbolicLink()) {
    throw new RuntableError(
      'ACCESS_DENIED',
      `table directory ${dir} is a symbolic link; point RUNTABLE_DIR at a real directory`,
    );
  }
  if (!stat.isDirectory()) {
    throw new RuntableError('ACCESS_DENIED', `table directory ${dir} is not a directory; remove it or choose another`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new RuntableError(
      'ACCESS_DENIED',
      `table directory ${dir} belongs to uid ${stat.uid}, not to you (uid ${uid}); use a directory of your own (RUNTABLE_DIR)`,
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new RuntableError(
      'ACCESS_DENIED',
      madeByRuntable(dir)
        ? `table directory ${dir} is open to other users (mode ${mode}); run chmod 700 ${dir}`
        : `table directory ${dir} is open to other users (mode ${mode}) and holds no table; ${OWN_DIRECTORY}`,
    );
  }
}

/** The advice for a directory runtable did not make: changing its mode could break what it is for. */
const OWN_DIRECTORY =
  'choose a directory of your own for the table (RUNTABLE_DIR), best a new path, which runtable creates with mode 0700';

/** Whether `dir` holds what runtable puts in a table directory, so that its mode is runtable's to fix. */
function madeByRuntable(dir: string): boolean {
  return [TOKEN_FILE, BROKER_LOG, BROKER_SOCKET].some((name) => fs.existsSync(path.join(dir, name)));
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdir takes ENOENT to mean "the parent is
 * missing", makes the parent and tries again; procfs answers ENOENT for any new name under an
 * existing directory, so on /proc it loops forever at full CPU. Here each level is tried once.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !fs.existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const level of missing) {
    try {
      fs.mkdirSync(level, { mode: 0o700 });
    } catch (error) {
      // Another process made it meanwhile.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * A failure to create something in the table directory (a full disk, a read-only file system,
 * no write permission), as an error that names the directory and the fix.
 */
export function unwritableTableDir(dir: string, error: unknown): RuntableError {
  if (error instanceof RuntableError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const fix =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'free space (or inodes) on its file system, or choose another directory (RUNTABLE_DIR)'
      : code === 'EROFS'
        ? 'its file system is read-only; choose another directory (RUNTABLE_DIR)'
        : madeByRuntable(dir)
          ? `make it writable by you (chmod 700 ${dir}) or choose another directory (RUNTABLE_DIR)`
          : OWN_DIRECTORY;
  return new RuntableError(
    'TABLE_UNAVAILABLE',
    `cannot write in table directory ${dir}: ${(error as Error).message}; ${fix}`,
    { cause: error },
  );
}

/** Throws if the path does not fit in a Unix socket address. */
export function checkSocketPath(socketPath: string): void {
  if (process.platform === 'win32') return;
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      `socket path ${socketPath} is ${bytes} bytes; Unix sockets allow ${MAX_SOCKET_PATH_BYTES}. Use a shorter table directory (RUNTABLE_DIR)`,
    );
  }
}

export function brokerSocketPath(dir: string): string {
  return path.join(dir, BROKER_SOCKET);
}

export function brokerLockPath(dir: string): string {
  return path.join(dir, BROKER_LOCK);
}

export function brokerLogPath(dir: string): string {
  return path.join(dir, BROKER_LOG);
}

let endpointCounter = 0;

/** A fresh socket path for an owner's endpoint: pid plus a counter keeps it unique and short. */
export function endpointSocketPath(dir: string): string {
  endpointCounter += 1;
  const socketPath = path.join(dir, `o${process.pid}-${endpointCounter}.sock`);
  // The name holds our pid: a file already there was left by a dead process that had it before.
  fs.rmSync(socketPath, { force: true });
  return socketPath;
}

/**
 * Runs `fn` with umask 0o177 so socket files are born 0600: chmod after listen would leave a
 * window in which they are not.
 */
export async function withPrivateUmask<T>(fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(0o177);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/**
 * Where the broker keeps what it knows of one service file's process: `<stem>-<hash>.pid` (so a
 * restarted broker never starts a second copy) and `.log` (the command's output). The hash of
 * the file's path keeps two directories' `build.json` apart.
 */
export function serviceStatePaths(dir: string, serviceFile: string): { pid: string; log: string } {
  const stem = path
    .basename(serviceFile, '.json')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 40);
  const hash = createHash('sha256').update(serviceFile).digest('hex').slice(0, 8);
  const base = path.join(dir, `service-${stem}-${hash}`);
  return { pid: `${base}.pid`, log: `${base}.log` };
}
