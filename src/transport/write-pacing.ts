// When a busy socket writes its tick's frames: all at the tick's end, or the first ones early.
//
// With many calls in flight the two ends take turns: one end's tick encodes a batch of frames and
// writes it at its end, the other end answers the whole batch, and neither works while the other
// does. Written in slices while the tick goes on (after 16, 32 and 48 frames), the first frames
// reach the peer while this end still encodes the rest, and the two ends work at once where each
// has a CPU of its own. Where the two share one CPU (the scheduler often runs a process woken by
// a write on the writer's CPU), they cannot work at once and each slice costs a wake-up, a read
// and a switch between the two: slower than one batch. Which is the case is not known from here
// and changes as the scheduler moves the processes, so the pacing measures: frames sent per ms
// in windows of WINDOW_FRAMES frames, in the way that measured faster, and now and then a shorter
// one in the other way to notice a change. Ticks of fewer than EARLY_FRAMES frames (one call at a
// time, a few) leave at their end either way, and no tick is cut past its first EARLY_FRAMES_MAX frames.

import { performance } from 'node:perf_hooks';

/** In the early way, a tick's frames are written each time this many more are queued... */
export const EARLY_FRAMES = 16;
/** ...up to this many: past them the rest leave at the tick's end (a burst is not cut up). */
export const EARLY_FRAMES_MAX = 48;
/** Frames per measuring window (about 5 to 15 ms of pipelined calls)... */
const WINDOW_FRAMES = 4096;
/**
 * ...and per probe: a quarter, since a probe of the slower way is the pacing's whole cost, and
 * the two ways differ by more than a short window's spread (a fifth to a half either way).
 */
export const PROBE_FRAMES = 1024;
/** The weight of a window in the running mean of the way in use (one window's spread is wide). */
const SMOOTHING = 0.25;
/** The window after which the first probe comes. */
const FIRST_PROBE = 4;
/** Windows between probes: doubled after a probe that lost, up to the maximum. */
const PROBE_EVERY_MIN = 16;
const PROBE_EVERY_MAX = 32;
/** A probe's way is taken only when faster than the running mean by this factor: one window's
 * spread is wide, and a wrong way costs more than a missed one gains. */
const BETTER_BY = 1.15;
/** A window that took longer than this measured idle time, not a way of writing: not counted. */
const WINDOW_MAX_MS = 100;

export class WritePacing {
  /** Whether this window writes a tick's first frames early. */
  early = false;
  readonly #now: () => number;
  /** The way in use (a probe aside): true when it is the early way. */
  #preferEarly = false;
  /** Frames per ms of the way in use: a running mean of its windows. */
  #rate = 0;
  #windowFrames = 0;
  #windowStart = -1;
  /** Windows until the next probe. */
  #untilProbe = FIRST_PROBE;
  #probeEvery = PROBE_EVERY_MIN;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Told at each tick's end the frames it sent (early ones included). */
  tickEnded(frames: number): void {
    if (this.#windowStart < 0) {
      // A window starts at a tick large enough to slice: one call at a time never starts one.
      if (frames >= EARLY_FRAMES) this.#windowStart = this.#now();
      return;
    }
    this.#windowFrames += frames;
    if (this.#windowFrames < (this.early === this.#preferEarly ? WINDOW_FRAMES : PROBE_FRAMES)) return;
    const now = this.#now();
    const ms = now - this.#windowStart;
    const rate = this.#windowFrames / ms;
    this.#windowFrames = 0;
    if (ms < WINDOW_MAX_MS) {
      this.#measured(rate);
      this.#windowStart = now;
    } else this.#windowStart = -1;
  }

  #measured(rate: number): void {
    if (this.early === this.#preferEarly) {
      this.#rate = this.#rate === 0 ? rate : this.#rate + (rate - this.#rate) * SMOOTHING;
    } else {
      // A probe: faster than the way in use, its way is used from now on.
      if (rate > this.#rate * BETTER_BY) {
        this.#preferEarly = this.early;
        this.#rate = rate;
        this.#probeEvery = PROBE_EVERY_MIN;
      } else this.#probeEvery = Math.min(PROBE_EVERY_MAX, this.#probeEvery * 2);
      this.#untilProbe = this.#probeEvery;
    }
    this.early = --this.#untilProbe === 0 ? !this.#preferEarly : this.#preferEarly;
  }
}
