// Runs fuzz cases against a real broker and a real owner (test/fixtures/fuzz-owner.ts), each case
// on its own connection over a real Unix socket. After every batch it checks the invariant: both
// processes alive and unchanged, Object.prototype in the owner untouched, and a connection made
// before the batch and a fresh one both list and call as before.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connect, type Table } from 'runtable';
import { tokenPath } from '../../src/wire/token.ts';
import { cleanup, type Fixture, isAlive, spawnFixture, tempTableDir } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';
import { type FuzzCase, type FuzzContext, makeCase, type Target } from './cases.ts';

/** A case's connection that the peer has not closed this long after we did is a hang. */
const CASE_TIMEOUT_MS = 10_000;

export interface FuzzOptions {
  seed: number;
  /** How many cases per target. */
  cases: number;
  /** The first case index; later ones follow. */
  from?: number;
  targets?: Target[];
  /** Cases between two checks of the invariant. */
  batch?: number;
  /** Connections open at once. */
  concurrency?: number;
  /** Told after every batch. */
  progress?: (done: number, total: number) => void;
}

export interface FuzzFailure {
  seed: number;
  /** The case, or the first of the batch after which the invariant broke. */
  index: number;
  /** Set when the invariant broke: the last case of that batch. */
  lastIndex?: number;
  target: Target;
  what: string;
  problem: string;
}

interface Owned {
  dir: string;
  table: Table;
  owner: Fixture;
  brokerPid: number;
  ctx: FuzzContext;
  sockets: Record<Target, string>;
}

interface Service {
  add(a: number, b: number): number;
  echo<T>(value: T): T;
  intact(): boolean;
}

async function setUp(): Promise<Owned> {
  const dir = tempTableDir();
  const table = await connect({ dir, timeout: 20_000 });
  const owner = spawnFixture('fuzz-owner', ['X/a'], dir);
  await owner.waitForLine(/^ready \d+/);
  const broker = await RawPeer.handshaken(path.join(dir, 'broker.sock'));
  const entry = (await broker.request({ kind: 13, id: 1, moniker: 'X/a' })).value as {
    endpoint: string;
    object: number;
    methods: string[];
  };
  broker.destroy();
  const brokerPid = (await table.status()).pid;
  return {
    dir,
    table,
    owner,
    brokerPid,
    ctx: { token: fs.readFileSync(tokenPath(dir), 'utf8'), dir, object: entry.object, methods: entry.methods },
    sockets: { broker: path.join(dir, 'broker.sock'), endpoint: entry.endpoint },
  };
}

/** Sends the case's bytes, half-closes, and waits for the peer to close too; returns a problem or undefined. */
function send(socketPath: string, fuzzCase: FuzzCase): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`the peer kept the connection open ${CASE_TIMEOUT_MS} ms after we hung up`);
    }, CASE_TIMEOUT_MS);
    socket.on('error', () => {});
    socket.resume();
    socket.once('connect', () => socket.end(fuzzCase.bytes));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** What is wrong after a batch, or undefined if the broker, the owner and their clients are fine. */
async function invariantBroken(owned: Owned): Promise<string | undefined> {
  if (!isAlive(owned.brokerPid)) return `the broker (pid ${owned.brokerPid}) died`;
  if (owned.owner.child.exitCode !== null || owned.owner.child.signalCode !== null) {
    return `the owner (pid ${owned.owner.pid}) died`;
  }
  try {
    for (const table of [owned.table, await connect({ dir: owned.dir, timeout: 10_000 })]) {
      const status = await table.status();
      if (status.pid !== owned.brokerPid) return `the broker changed: pid ${status.pid}, not ${owned.brokerPid}`;
      const monikers = (await table.list('X/')).map((e) => e.moniker);
      if (monikers.join() !== 'X/a') return `the table lists ${JSON.stringify(monikers)}, not X/a`;
      const remote = await table.get<Service>('X/a');
      if ((await remote.add(2, 3)) !== 5) return 'add(2, 3) is not 5';
      const value = { deep: [new Map([[1, 'x']]), 2n, new Uint8Array([1, 2])] };
      const echoed = (await remote.echo(value)) as typeof value;
      if (!(echoed.deep[0] instanceof Map) || echoed.deep[1] !== 2n) return 'echo does not round-trip';
      if (!(await remote.intact())) return 'Object.prototype in the owner was changed';
      if (table !== owned.table) await table.close();
    }
  } catch (error) {
    return `a well-behaved client failed: ${(error as Error).message}`;
  }
  return undefined;
}

/** Runs the cases; returns the failures (it stops at the first broken invariant). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzFailure[]> {
  const from = options.from ?? 0;
  const targets = options.targets ?? ['broker', 'endpoint'];
  const batch = options.batch ?? 250;
  const concurrency = options.concurrency ?? 8;
  const failures: FuzzFailure[] = [];
  const owned = await setUp();
  try {
    const total = options.cases * targets.length;
    let done = 0;
    for (const target of targets) {
      for (let start = from; start < from + options.cases; start += batch) {
        const end = Math.min(from + options.cases, start + batch);
        let next = start;
        const worker = async () => {
          while (next < end) {
            const fuzzCase = makeCase(options.seed, next++, target, owned.ctx);
            const problem = await send(owned.sockets[target], fuzzCase);
            if (problem)
              failures.push({ seed: options.seed, index: fuzzCase.index, target, what: fuzzCase.what, problem });
          }
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
        const broken = await invariantBroken(owned);
        done += end - start;
        options.progress?.(done, total);
        if (broken) {
          failures.push({
            seed: options.seed,
            index: start,
            lastIndex: end - 1,
            target,
            what: `one of cases ${start}..${end - 1}`,
            problem: broken,
          });
          return failures;
        }
      }
    }
    return failures;
  } finally {
    await owned.table.close();
    await cleanup(owned.dir);
  }
}

/** How to run one case again: the command line that makes it alone. */
export function reproduce(failure: FuzzFailure): string {
  const count = failure.lastIndex === undefined ? 1 : failure.lastIndex - failure.index + 1;
  return `npm run fuzz -- --seed ${failure.seed} --from ${failure.index} --cases ${count} --target ${failure.target} --batch 1`;
}
