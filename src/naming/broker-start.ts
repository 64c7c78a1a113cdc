// Finds the table's broker, or starts one. Many processes may race to start it over a stale
// socket; an atomic mkdir lock that records its holder's pid settles the race, and the socket
// file is probed before it is removed, so a live broker is never robbed of its name.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntableError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import { guardTimer } from '../transport/keep-alive.js';
import { brokerLockPath, brokerLogPath, brokerSocketPath, unwritableTableDir } from '../transport/paths.js';
import type { Transport } from '../transport/transport.js';
import { connectUnix } from '../transport/unix.js';
import { isAlive } from './liveness.js';

/** A lock with no pid file yet is stale after this long (its maker died between two syscalls). */
const STALE_LOCK_MS = 5000;
/** The broker log is set aside as broker.log.1 when it grows past this at start. */
const MAX_LOG_BYTES = 1024 * 1024;
/** Waiting for another process's start: how often to look again. */
const POLL_MS = 10;
/**
 * Node options of the broker process. Its young generation is held to 2 MiB semi-spaces (V8's
 * default grows them to 16): a burst of 10,000 registrations otherwise grows the broker's
 * resident set by 14 to 16 MiB of young generation, against 4 to 8 MiB with this, for about 3 %
 * more CPU in the burst (docs/PERFORMANCE.md). gc() is there for broker/idle-gc.ts, which
 * collects once a burst is over (compacting, for that collection only). One V8 worker thread,
 * not four: each worker's glibc arena keeps what its collections and compilations freed (1 to 2
 * MiB each after a burst, with under 0.1 MiB in use), and one arena reuses it.
 */
const BROKER_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=2', '--expose-gc', '--v8-pool-size=1'];

export interface BrokerStartOptions {
  autoStart: boolean;
  /** Overall deadline for finding or starting the broker, ms. */
  timeout: number;
  /** Passed to a broker this call starts. */
  idleMs?: number;
}

/** Returns a transport connected to the table's broker, starting the broker if allowed. */
export async function reachBroker(dir: string, options: BrokerStartOptions): Promise<Transport> {
  const socket = brokerSocketPath(dir);
  const deadline = Date.now() + options.timeout;
  for (;;) {
    const transport = await probe(socket, options.timeout);
    if (transport) return transport;
    if (!options.autoStart) {
      throw new RuntableError(
        'TABLE_UNAVAILABLE',
        `no broker runs for table ${dir}; start one with "runtable broker start" or connect with autoStart`,
      );
    }
    if (tryLock(dir)) {
      try {
        const raced = await probe(socket, options.timeout);
        if (raced) return raced;
        await spawnBroker(dir, options);
      } finally {
        unlock(dir);
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new RuntableError(
        'TABLE_UNAVAILABLE',
        `timed out waiting for another process to start the broker of ${dir}; see ${brokerLogPath(dir)}`,
      );
    }
    // Unref'd: a reconnect loop nobody waits on must not hold the process (connect() holds its own).
    await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
  }
}

/** Connects if a broker listens; undefined if the socket is missing or stale. */
async function probe(socket: string, timeout: number): Promise<Transport | undefined> {
  try {
    // What the link is used for holds the process, not the link itself (keep-alive.ts).
    return await connectUnix(socket, { maxFrameBytes: MAX_FRAME_BYTES, timeout, holdsProcess: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new RuntableError('ACCESS_DENIED', `cannot connect to ${socket}: permission denied`, { cause: error });
    }
    throw new RuntableError('TABLE_UNAVAILABLE', `cannot connect to ${socket}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function tryLock(dir: string): boolean {
  const lock = brokerLockPath(dir);
  try {
    fs.mkdirSync(lock, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritableTableDir(dir, error);
    return breakStale(lock);
  }
  try {
    fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
  } catch (error) {
    // A lock without its pid would hold others off for STALE_LOCK_MS: take it back at once.
    fs.rmSync(lock, { recursive: true, force: true });
    throw unwritableTableDir(dir, error);
  }
  return true;
}

/** Breaks the lock if its holder is gone; the caller tries again. Always false: not ours yet. */
function breakStale(lock: string): boolean {
  if (isStale(lock)) {
    // Rename first: removal is then of a directory nobody else can be taking at the same time.
    const aside = `${lock}.stale-${process.pid}-${Date.now()}`;
    try {
      fs.renameSync(lock, aside);
      fs.rmSync(aside, { recursive: true, force: true });
    } catch {
      // Someone else broke it first.
    }
  }
  return false;
}

function isStale(lock: string): boolean {
  try {
    const pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
    return !isAlive(pid);
  } catch {
    try {
      return Date.now() - fs.statSync(lock).mtimeMs > STALE_LOCK_MS;
    } catch {
      return false;
    }
  }
}

function unlock(dir: string): void {
  fs.rmSync(brokerLockPath(dir), { recursive: true, force: true });
}

/**
 * How to run the broker: broker/broker-main beside this folder (from dist with plain node, or
 * from src through tsx), else, in an app bundled into one file, the copy of it built into the bundle, fed
 * to node on stdin so that none of the app's own code runs in the broker.
 */
async function brokerLaunch(): Promise<{ args: string[]; code?: string }> {
  // import.meta.url is empty in a CommonJS bundle.
  const self = import.meta.url ? fileURLToPath(import.meta.url) : undefined;
  const brokerDir = self && path.join(path.dirname(self), '..', 'broker');
  if (self?.endsWith('.ts')) {
    return { args: ['--import', import.meta.resolve('tsx'), path.join(brokerDir as string, 'broker-main.ts')] };
  }
  const beside = brokerDir && path.join(brokerDir, 'broker-main.js');
  if (beside && fs.existsSync(beside)) return { args: [beside] };
  const { BROKER_CODE } = await import('./broker-code.js');
  if (!BROKER_CODE) {
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      `cannot start a broker: broker-main.js is not in ${brokerDir ?? "runtable's broker folder"}, and this build carries no broker of its own; start one with "runtable broker start"`,
    );
  }
  // "broker-main" only names the process for ps and for the tests that look for brokers.
  return { args: ['--input-type=module', '-', 'broker-main'], code: BROKER_CODE };
}

async function spawnBroker(dir: string, options: BrokerStartOptions): Promise<void> {
  const socket = brokerSocketPath(dir);
  // Under the lock and after a failed probe, a socket file left here belongs to a dead broker.
  fs.rmSync(socket, { force: true });
  const logPath = brokerLogPath(dir);
  try {
    if (fs.statSync(logPath).size > MAX_LOG_BYTES) fs.renameSync(logPath, `${logPath}.1`);
  } catch {
    // No log yet.
  }
  let logFd: number;
  try {
    logFd = fs.openSync(logPath, 'a', 0o600);
  } catch (error) {
    throw unwritableTableDir(dir, error);
  }
  let launch: { args: string[]; code?: string };
  try {
    launch = await brokerLaunch();
  } catch (error) {
    fs.closeSync(logFd);
    throw error;
  }
  const args = [...BROKER_NODE_OPTIONS, ...launch.args, '--dir', dir];
  if (options.idleMs !== undefined) args.push('--idle-ms', String(options.idleMs));
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: [launch.code === undefined ? 'ignore' : 'pipe', logFd, logFd, 'ipc'],
    cwd: dir,
    // Electron's binary is node only when told so.
    ...(process.versions.electron ? { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } } : {}),
  });
  fs.closeSync(logFd);
  if (launch.code !== undefined) {
    // A broker that dies before reading its program is reported by the exit handler below.
    child.stdin?.on('error', () => {});
    child.stdin?.end(launch.code);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = guardTimer(options.timeout, () => {
      child.kill('SIGKILL');
      reject(
        new RuntableError('TABLE_UNAVAILABLE', `the broker did not start in ${options.timeout} ms; see ${logPath}`),
      );
    });
    child.once('message', (message: unknown) => {
      clearTimeout(timer);
      if (message === 'ready') resolve();
      else {
        const reason = (message as { error?: string })?.error ?? 'unknown reason';
        reject(new RuntableError('TABLE_UNAVAILABLE', `the broker failed to start: ${reason}; see ${logPath}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new RuntableError('TABLE_UNAVAILABLE', `the broker exited at start (code ${code}); see ${logPath}`));
    });
  });
  child.removeAllListeners('exit');
  if (child.connected) child.disconnect();
  child.unref();
}
