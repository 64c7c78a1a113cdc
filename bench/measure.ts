// What every transport is measured with: the Client a peer module gives, the payloads, the
// correctness check on every reply, and the call workloads (a) to (d). No transport-specific
// code here: every transport goes through exactly the same loops and payloads.

import fs from 'node:fs';

/** One connection to an echo peer, as the workloads use it. */
export interface Client {
  /** Processes on the call path besides this one: pinned with it by --pin. */
  pids: number[];
  echo(payload: Uint8Array): Promise<Uint8Array>;
  /**
   * Sends `payload` on the same connection as echo and resolves with its length as the peer
   * counted it. Absent where the transport cannot share one connection between a transfer and
   * small calls (HTTP/1.1), or cannot carry 100 MB in useful time (dbus-next).
   */
  sink?(payload: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

export interface Transport {
  name: string;
  /** Starts the peer process and connects to it. `dir` is private to this transport. */
  open(dir: string): Promise<Client>;
  /** Why `sink` is missing, for the table. */
  noSink?: string;
}

export const SMALL_BYTES = 64;
export const IN_FLIGHT = 64;
export const BULK_BYTES = 1024 * 1024;

/** A payload of `size` bytes whose first four bytes carry `tag`, so a mixed-up reply shows. */
export function payload(size: number, tag: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + tag) & 0xff;
  if (size >= 4) bytes.writeUInt32LE(tag >>> 0, 0);
  return bytes;
}

/** Throws unless the reply holds exactly the bytes sent. */
export function check(reply: Uint8Array, sent: Uint8Array, what: string): void {
  if (!(reply instanceof Uint8Array)) throw new Error(`${what}: reply is ${typeof reply}, not bytes`);
  const view = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  if (view.byteLength !== sent.byteLength || !view.equals(sent)) {
    throw new Error(`${what}: echoed ${reply.byteLength} bytes differ from the ${sent.byteLength} sent`);
  }
}

/**
 * One small call in FULL_CHECK_MASK + 1 has its reply compared byte for byte; every other reply
 * is checked by its length and the call's own tag (its first four bytes, a fresh number per
 * call), which catches a wrong, stale or mixed-up reply at a cost that does not hide the floor.
 */
const FULL_CHECK_MASK = 63;

/** The tag (first four bytes, LE) of a small payload or reply. */
function tagOf(bytes: Uint8Array): number {
  return (
    ((bytes[0] as number) |
      ((bytes[1] as number) << 8) |
      ((bytes[2] as number) << 16) |
      ((bytes[3] as number) << 24)) >>>
    0
  );
}

/** Names a call in a failure: made only when one fails, not a string built per call. */
type Label = (tag: number) => string;
const SEQUENTIAL: Label = (tag) => `sequential call ${tag}`;
const PIPELINED: Label = (tag) => `pipelined call ${tag}`;
const UNDER_LOAD: Label = (tag) => `call ${tag} under load`;

/** The harness's per-call check: length and tag always, every byte one call in 64. */
function checkTagged(reply: Uint8Array, sent: Buffer, tag: number, what: Label): void {
  if (!(reply instanceof Uint8Array) || reply.byteLength !== sent.byteLength) check(reply, sent, what(tag));
  else if (tagOf(reply) !== tag >>> 0) {
    throw new Error(`${what(tag)}: the reply carries the tag of another call (${tagOf(reply)}, not ${tag >>> 0})`);
  } else if ((tag & FULL_CHECK_MASK) === 0) check(reply, sent, what(tag));
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const now = () => performance.now();

/** Counts and time caps for one workload; a slow transport stops at the cap with fewer calls. */
export interface Budget {
  calls: number;
  /** Stop after this many ms even if fewer calls were made (at least `min` are). */
  ms: number;
  min: number;
}

/** The clock is read once every 64 calls: the harness's own cost stays out of the figures. */
function within(budget: Budget, done: number, start: number): boolean {
  return done < budget.calls && (done < budget.min || (done & 63) !== 0 || now() - start < budget.ms);
}

/** (a) One 64-byte call at a time: latency in µs. */
export async function sequential(client: Client, budget: Budget): Promise<{ p50: number; p99: number }> {
  const samples = new Float64Array(budget.calls);
  const sent = payload(SMALL_BYTES, 0);
  const start = now();
  let done = 0;
  while (within(budget, done, start)) {
    sent.writeUInt32LE(done, 0);
    const t0 = now();
    const reply = await client.echo(sent);
    samples[done] = now() - t0;
    checkTagged(reply, sent, done, SEQUENTIAL);
    done++;
  }
  const sorted = samples.subarray(0, done).sort();
  return { p50: percentile(sorted, 50) * 1000, p99: percentile(sorted, 99) * 1000 };
}

/** What the pipelined workload measured: the rate and the CPU both sides spent per call. */
export interface Pipelined {
  callsPerSecond: number;
  /** CPU µs per call in this process (process.cpuUsage: every thread, GC included). */
  clientCpuUs: number;
  /** CPU µs per call in the peer processes (`Client.pids`, every thread, from /proc). */
  peerCpuUs: number;
}

/** CPU time in µs of every thread of a process, from the scheduler's own ns counters. */
export function cpuMicros(pid: number): number {
  let total = 0;
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1000;
      } catch {
        // A thread that ended between the listing and the read.
      }
    }
  } catch {
    return Number.NaN;
  }
  return total;
}

const ownCpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** (b) 64-byte calls with IN_FLIGHT outstanding at all times: calls per second. */
export async function pipelined(client: Client, budget: Budget): Promise<Pipelined> {
  let issued = 0;
  let done = 0;
  const peerStart = client.pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const cpuStart = ownCpu();
  const start = now();
  // Each lane owns one payload and rewrites only its tag per call: no payload is built per call.
  const lane = async (index: number) => {
    const sent = payload(SMALL_BYTES, index);
    while (within(budget, issued, start)) {
      const tag = issued++;
      sent.writeUInt32LE(tag, 0);
      checkTagged(await client.echo(sent), sent, tag, PIPELINED);
      done++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => lane(i)));
  const seconds = (now() - start) / 1000;
  const clientCpu = ownCpu() - cpuStart;
  const peerCpu = client.pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - peerStart;
  return { callsPerSecond: done / seconds, clientCpuUs: clientCpu / done, peerCpuUs: peerCpu / done };
}

/**
 * The harness alone: the pipelined loop against a client that answers in-process with no
 * socket. `loop` is ns per call of the whole loop (lanes, tags, checks, clock, and the await of
 * a promise per call that any promise-based caller pays); `bare` the same lanes doing nothing
 * but that await. `loop - bare` is the bench's own per-call work.
 */
export async function harnessAlone(budget: Budget): Promise<{ loop: number; bare: number }> {
  const loopback: Client = { pids: [], echo: (bytes) => Promise.resolve(bytes), close: async () => {} };
  const { callsPerSecond } = await pipelined(loopback, budget);
  let issued = 0;
  const start = now();
  const lane = async () => {
    const sent = payload(SMALL_BYTES, 0);
    while (issued < budget.calls) {
      issued++;
      await loopback.echo(sent);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return { loop: 1e9 / callsPerSecond, bare: ((now() - start) * 1e6) / issued };
}

/** (c) 1 MiB echoed, one at a time: MiB per second of payload (each way). */
export async function bulk(client: Client, budget: Budget, size = BULK_BYTES): Promise<number> {
  const base = payload(size, 0);
  const start = now();
  let done = 0;
  while (within(budget, done, start)) {
    base.writeUInt32LE(done, 0);
    check(await client.echo(base), base, `1 MiB echo ${done}`);
    done++;
  }
  return (done * size) / (1024 * 1024) / ((now() - start) / 1000);
}

/**
 * (d) Sequential 64-byte calls while one transfer of `bytes` runs on the same connection:
 * p99 latency of the small calls, ms, and how many of them completed during the transfer.
 */
export async function underLoad(client: Client, bytes: number): Promise<{ p99: number; calls: number }> {
  const sink = client.sink?.bind(client);
  if (!sink) throw new Error('this transport has no transfer on a shared connection');
  const big = payload(bytes, 7);
  let finished = false;
  const transfer = sink(big).then((count) => {
    finished = true;
    if (count !== bytes) throw new Error(`transfer: the peer counted ${count} bytes of ${bytes}`);
  });
  transfer.catch(() => {
    finished = true;
  });
  const samples: number[] = [];
  const sent = payload(SMALL_BYTES, 0);
  while (!finished) {
    const tag = samples.length;
    sent.writeUInt32LE(tag, 0);
    const t0 = now();
    const reply = await client.echo(sent);
    samples.push(now() - t0);
    checkTagged(reply, sent, tag, UNDER_LOAD);
  }
  await transfer;
  return { p99: percentile(Float64Array.from(samples).sort(), 99), calls: samples.length };
}

/** Collects items pushed by a watcher and lets the bench wait for one that matches. */
export class Inbox<T> {
  #items: T[] = [];
  #waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push(item: T): void {
    const waiter = this.#waiters.find((w) => w.match(item));
    if (waiter) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(item);
    } else this.#items.push(item);
  }

  wait(match: (item: T) => boolean, timeoutMs = 10_000, what = 'an event'): Promise<T> {
    const index = this.#items.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#items.splice(index, 1)[0] as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}
