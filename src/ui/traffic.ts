// Every call of the table as the viewer's picture needs it: the monitor's records folded into
// counts per caller process and moniker, plus the latest failures. Bounded whatever the traffic,
// so a busy table costs the page one small message per interval, never one per call.

import type { CallRecord } from '../calls/monitor.js';
import type { TrafficError, TrafficPair, ViewerTraffic } from './shared/viewer.js';

/** Caller/moniker pairs kept at most; past it the one idle longest makes room. */
export const MAX_TRAFFIC_PAIRS = 500;
/** Failures kept (and sent) at most, newest first. */
export const MAX_RECENT_ERRORS = 20;
/** A pair with no call for this long is dropped: its caller has most likely gone. */
export const TRAFFIC_IDLE_MS = 60_000;

interface Pair {
  callerPid: number;
  ownerPid: number;
  moniker: string;
  calls: number;
  errors: number;
  lastAt: number;
}

export class Traffic {
  readonly #pairs = new Map<string, Pair>();
  #errors: TrafficError[] = [];
  #missed = 0;

  /** Counts one ended call; callbacks (an owner calling into its client) are not drawn. */
  add(record: CallRecord): void {
    this.#missed += record.missed;
    if (record.callback) return;
    const key = `${record.callerPid}\u0000${record.moniker}`;
    let pair = this.#pairs.get(key);
    if (!pair) {
      if (this.#pairs.size >= MAX_TRAFFIC_PAIRS) this.#evictIdlest();
      pair = {
        callerPid: record.callerPid,
        ownerPid: record.ownerPid,
        moniker: record.moniker,
        calls: 0,
        errors: 0,
        lastAt: 0,
      };
      this.#pairs.set(key, pair);
    } else {
      // Map order is least recently active first: evicting takes the first one.
      this.#pairs.delete(key);
      this.#pairs.set(key, pair);
    }
    const at = record.endedAt.getTime();
    pair.calls += 1;
    pair.lastAt = at;
    pair.ownerPid = record.ownerPid;
    if (record.outcome !== 'ok') {
      pair.errors += 1;
      this.#errors.unshift({
        callerPid: record.callerPid,
        ownerPid: record.ownerPid,
        moniker: record.moniker,
        method: record.method,
        outcome: record.outcome,
        at: record.endedAt.toISOString(),
      });
      if (this.#errors.length > MAX_RECENT_ERRORS) this.#errors.length = MAX_RECENT_ERRORS;
    }
  }

  /** Drops what was counted for `moniker` (it left the table); true if there was any. */
  forget(moniker: string): boolean {
    let dropped = false;
    for (const [key, pair] of this.#pairs) {
      if (pair.moniker === moniker) dropped = this.#pairs.delete(key);
    }
    return dropped;
  }

  /** Drops the pairs idle past TRAFFIC_IDLE_MS; true if there were any. */
  sweep(now = Date.now()): boolean {
    let dropped = false;
    for (const [key, pair] of this.#pairs) {
      // In order of last activity: the first one still active ends the sweep.
      if (now - pair.lastAt < TRAFFIC_IDLE_MS) break;
      dropped = this.#pairs.delete(key);
    }
    return dropped;
  }

  snapshot(): ViewerTraffic {
    const pairs: TrafficPair[] = [...this.#pairs.values()].map((pair) => ({
      callerPid: pair.callerPid,
      ownerPid: pair.ownerPid,
      moniker: pair.moniker,
      calls: pair.calls,
      errors: pair.errors,
      lastAt: new Date(pair.lastAt).toISOString(),
    }));
    return { pairs, errors: [...this.#errors], missed: this.#missed };
  }

  #evictIdlest(): void {
    const first = this.#pairs.keys().next();
    if (!first.done) this.#pairs.delete(first.value);
  }
}
