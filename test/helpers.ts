// Shared by the tests: a private table directory per test, fixture processes that are always
// killed, and waiting with a deadline instead of sleeping.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ConnectOptions, connect, RuntableError, type Table } from 'runtable';

// Brokers started by tests (they inherit this environment) never read the user's own service
// files: a test that wants services points RUNTABLE_SERVICES at a directory of its own.
process.env.RUNTABLE_SERVICES ??= path.join(os.tmpdir(), `runtable-test-no-services-${process.pid}`);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Runs TypeScript sources the way `npm test` does. */
export const NODE_TS = ['--import', 'tsx', '--conditions=runtable-source'];

/** A fresh table directory, short enough for socket paths; removed with `cleanup`. */
export function tempTableDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rt-'));
}

export interface Fixture {
  child: ChildProcess;
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** Starts test/fixtures/<name>.ts (or a path under ROOT; .mjs runs without tsx) with RUNTABLE_DIR=dir. */
export function spawnFixture(name: string, args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Fixture {
  const file = name.includes('/') ? path.join(ROOT, name) : path.join(ROOT, 'test', 'fixtures', `${name}.ts`);
  const child = spawn(process.execPath, [...(file.endsWith('.mjs') ? [] : NODE_TS), file, ...args], {
    cwd: ROOT,
    env: { ...process.env, RUNTABLE_DIR: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let pending = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      newline = pending.indexOf('\n');
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
  });
  // 'exit' may come before the last of stdout has been read: a line printed just before exiting
  // is only missing once the pipe has closed too.
  const stdoutClosed = new Promise<void>((resolve) => {
    if (!child.stdout) resolve();
    else child.stdout.once('close', resolve);
  });
  return {
    child,
    pid: child.pid as number,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 20_000) {
      const found = lines.find((line) => pattern.test(line));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`fixture ${name} printed no line matching ${pattern}; stderr: ${stderr}`)),
          timeoutMs,
        );
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        void Promise.all([exited, stdoutClosed]).then(([code]) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`fixture ${name} exited (code ${code}) before printing ${pattern}; stderr: ${stderr}`));
        });
      });
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Alive and not a zombie (an exited child nobody reaped yet counts as gone). */
export { isAlive } from '../src/naming/liveness.ts';

/** Pids of broker processes serving `dir`, found through /proc. */
export function brokerPids(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((arg) => arg.includes('broker-main')) && cmdline.includes(dir)) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Kills every fixture still running and every broker of `dir`, then removes the directory. */
export async function cleanup(dir?: string): Promise<void> {
  const exits: Promise<unknown>[] = [];
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      exits.push(new Promise((resolve) => child.once('exit', resolve)));
      child.kill('SIGKILL');
    }
  }
  await Promise.all(exits);
  if (!dir) return;
  for (const pid of brokerPids(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await waitFor(() => brokerPids(dir).length === 0, 5000, 'brokers to exit');
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface TestTables {
  dir: string;
  table: Table;
  /** Another Table on the same directory, with these options too; closed after the test. */
  other(options?: ConnectOptions): Promise<Table>;
}

/** For each test of the calling file: a fresh table directory and a Table connected to it. */
export function tableForEachTest(options: ConnectOptions = {}): TestTables {
  let others: Table[] = [];
  const context = {
    async other(more: ConnectOptions = {}) {
      const other = await connect({ ...options, ...more, dir: context.dir });
      others.push(other);
      return other;
    },
  } as TestTables;
  beforeEach(async () => {
    context.dir = tempTableDir();
    context.table = await connect({ ...options, dir: context.dir });
  });
  afterEach(async () => {
    for (const other of others) await other.close();
    others = [];
    await context.table.close();
    await cleanup(context.dir);
  });
  return context;
}

/** For assert.rejects / assert.throws: the error is a RuntableError of code `expected`. */
export function code(expected: string): (error: unknown) => true {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, expected, error.message);
    return true;
  };
}
