// Per-object call statistics kept by every owner: per moniker and method, counts by outcome and a
// latency histogram of fixed size (log-spaced buckets), so memory never grows with traffic. It is
// always on: recording a call is a few array increments and must never allocate.

import process from 'node:process';
import { ERROR_CODES } from '../errors.js';
import type { CallFigures, StatisticsReport } from '../wire/protocol.js';

/** Buckets per doubling of latency: each bucket's upper edge is 2^(1/8) (≈ 1.0905) times its lower. */
export const BUCKETS_PER_OCTAVE = 8;
/** Doublings above 1 µs the histogram tells apart: up to 2^32 µs (≈ 71.6 minutes). */
export const OCTAVES = 32;
/**
 * Buckets per method: [0, 1 µs), then OCTAVES × BUCKETS_PER_OCTAVE log-spaced ones, then one for
 * everything longer. 258 float64 counts: 2,064 bytes per method that has been called at least once.
 */
export const BUCKETS = OCTAVES * BUCKETS_PER_OCTAVE + 2;
const LAST = BUCKETS - 1;

/** Every outcome a served call can end with: 'ok' or an error code. */
const OUTCOMES: readonly string[] = ['ok', ...ERROR_CODES];
const OUTCOME_INDEX: Readonly<Record<string, number>> = Object.fromEntries(OUTCOMES.map((code, i) => [code, i]));
/** An outcome outside the known codes (none today) is counted as the method's own failure. */
const OTHER = OUTCOME_INDEX.REMOTE as number;

/** The bucket a duration of `ms` milliseconds falls into. */
export function bucketOf(ms: number): number {
  const us = ms * 1000;
  // NaN and negative durations (a clock step) land in the first bucket with the sub-µs ones.
  if (!(us >= 1)) return 0;
  const index = Math.floor(Math.log2(us) * BUCKETS_PER_OCTAVE) + 1;
  return Math.min(index, LAST);
}

/** The upper edge of bucket `index`, in ms (Infinity for the last). */
export function bucketEdge(index: number): number {
  if (index >= LAST) return Number.POSITIVE_INFINITY;
  return 2 ** (index / BUCKETS_PER_OCTAVE) / 1000;
}

/** One method's counts: what a served call adds to when it ends. */
export class MethodCounter {
  calls = 0;
  /** The longest call, in ms, exactly. */
  max = 0;
  readonly outcomes = new Float64Array(OUTCOMES.length);
  readonly buckets = new Float64Array(BUCKETS);

  record(outcome: string, ms: number): void {
    this.calls++;
    // 'ok' without the look-up: a keyed load on a table of 40-odd codes, per served call.
    const kind = outcome === 'ok' ? 0 : (OUTCOME_INDEX[outcome] ?? OTHER);
    this.outcomes[kind] = (this.outcomes[kind] as number) + 1;
    const bucket = bucketOf(ms);
    this.buckets[bucket] = (this.buckets[bucket] as number) + 1;
    if (ms > this.max) this.max = ms;
  }

  /** Adds `other`'s counts to these (for an object's totals). */
  add(other: MethodCounter): void {
    this.calls += other.calls;
    if (other.max > this.max) this.max = other.max;
    for (let i = 0; i < OUTCOMES.length; i++) {
      this.outcomes[i] = (this.outcomes[i] as number) + (other.outcomes[i] as number);
    }
    for (let i = 0; i < BUCKETS; i++) this.buckets[i] = (this.buckets[i] as number) + (other.buckets[i] as number);
  }

  /**
   * The smallest bucket edge with at least a fraction `q` of the calls at or below it (nearest
   * rank), never above the exact maximum: at or above the true percentile, by less than one
   * bucket's width (9.05%).
   */
  percentile(q: number): number {
    if (this.calls === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.calls));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i] as number;
      if (seen >= rank) return Math.min(bucketEdge(i), this.max);
    }
    return this.max;
  }

  figures(): CallFigures {
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < OUTCOMES.length; i++) {
      const count = this.outcomes[i] as number;
      if (count > 0) outcomes[OUTCOMES[i] as string] = count;
    }
    return {
      calls: this.calls,
      errors: this.calls - (this.outcomes[0] as number),
      outcomes,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      max: this.max,
    };
  }
}

/**
 * The clock reading that ended the last call counted in this run of JavaScript, or -1 once the
 * event loop may have waited since. Calls decoded from one socket read are served back to back:
 * the end of one is the start of the next, so each costs one clock read instead of two
 * (a clock reading is about 35 ns here: docs/PERFORMANCE.md). Kept in a Float64Array: a
 * module variable would box each reading in a fresh HeapNumber, stored with a write barrier.
 */
const clock = new Float64Array([-1]);
let forgetQueued = false;

/** Microtasks all run before the event loop waits again, so this runs before any idle time. */
function forget(): void {
  clock[0] = -1;
  forgetQueued = false;
}

/** User code other than a call's method ran (an event's listeners): the next call reads the clock. */
export function clockStale(): void {
  clock[0] = -1;
}

const hrtime = process.hrtime;

/**
 * The monotonic clock in ms, as performance.now() reads it but without its check of its receiver
 * (a hasOwnProperty per reading): calls are timed by differences only.
 */
function clockMs(): number {
  const reading = hrtime();
  return (reading[0] as number) * 1e3 + (reading[1] as number) / 1e6;
}

/**
 * The start of a counted call, as clockMs(): the end of the call counted just before it
 * if nothing but the serving of calls (their decoding, another message of the same read) ran
 * between, else a fresh reading.
 */
export function callStart(): number {
  const lastEnd = clock[0] as number;
  return lastEnd >= 0 ? lastEnd : clockMs();
}

/** Ends a counted call: `startedAt` is the callStart() of its start. */
export function tally(counter: MethodCounter | undefined, startedAt: number, outcome: string): void {
  if (!counter) return;
  const now = clockMs();
  counter.record(outcome, now - startedAt);
  clock[0] = now;
  if (!forgetQueued) {
    forgetQueued = true;
    queueMicrotask(forget);
  }
}

/** One registered object's counters, from its registration on. */
export class ObjectCounters {
  readonly moniker: string;
  readonly object: number;
  readonly since = new Date();
  readonly #methods: readonly string[];
  /** Made on a method's first call, so an object with many methods never called costs nothing. */
  readonly #counters = new Map<string, MethodCounter>();
  /** Calls naming no exposed method: in the totals only, since their names are the caller's. */
  #unknown: MethodCounter | undefined;

  constructor(moniker: string, object: number, methods: readonly string[]) {
    this.moniker = moniker;
    this.object = object;
    this.#methods = methods;
  }

  /** The counter of exposed method `method` (the caller checked that it is one). */
  method(method: string): MethodCounter {
    let counter = this.#counters.get(method);
    if (!counter) {
      counter = new MethodCounter();
      this.#counters.set(method, counter);
    }
    return counter;
  }

  /** A call refused at once because it named no exposed method. */
  unknownMethod(): void {
    this.#unknown ??= new MethodCounter();
    this.#unknown.record('NO_SUCH_METHOD', 0);
  }

  report(): StatisticsReport {
    const total = new MethodCounter();
    const methods: Record<string, CallFigures> = {};
    const none = new MethodCounter();
    for (const name of this.#methods) {
      const counter = this.#counters.get(name);
      if (counter) total.add(counter);
      methods[name] = (counter ?? none).figures();
    }
    if (this.#unknown) total.add(this.#unknown);
    return { moniker: this.moniker, object: this.object, since: this.since, methods, total: total.figures() };
  }
}

/** What table.stats() gives for one method, or for an object's totals. */
export interface MethodStats extends CallFigures {
  /** When counting began: the object's registration in its owner process. */
  since: Date;
}

/** An object's statistics as its owner keeps them. */
export interface ObjectStats {
  moniker: string;
  /** The owner process that counted them. */
  pid: number;
  /** When counting began: the registration of the object in this owner. */
  since: Date;
  /** Every exposed method, called or not. */
  methods: Record<string, MethodStats>;
  /** All calls to the object, including those naming no exposed method (NO_SUCH_METHOD). */
  total: MethodStats;
}

/** A report from the wire as the public type. */
export function toObjectStats(report: StatisticsReport, pid: number): ObjectStats {
  const since = report.since;
  // fromEntries defines own properties: a peer's "__proto__" stays a key, never a prototype.
  const methods = Object.fromEntries(
    Object.entries(report.methods).map(([name, figures]) => [name, { ...figures, since }]),
  );
  return { moniker: report.moniker, pid, since, methods, total: { ...report.total, since } };
}
