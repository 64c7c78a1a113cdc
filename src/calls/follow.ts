// Subscriptions that follow the moniker, as calls do: when the owner an on() listener hears goes
// (revoke, crash, replace), the subscription moves to the next owner under the same name (a
// standby, a restart, an activation) and says what happened between; with nobody taking the
// name within a grace period, it ends for good, and says that too. The table's watch tells it.

import { RuntableError } from '../errors.js';
import type { TableEvent } from '../naming/entry.js';
import { holdOnce } from '../transport/keep-alive.js';
import type { Target } from './proxy.js';

/** How long a subscription whose owner left waits for the next owner before it ends. */
export const DEFAULT_FOLLOW_GRACE_MS = 10_000;

/** The stretch between two owners, during which events may have been missed. */
export interface SubscriptionGap {
  /** When the subscription lost its owner: events emitted from then on may not have arrived. */
  since: Date;
  /** When it was subscribed again, at the next owner. */
  until: Date;
  /** The pid of the owner it hears now. */
  pid: number | undefined;
}

export interface SubscribeOptions {
  /** Called each time the subscription moved to a new owner, with the stretch that may have missed events. */
  onGap?: (gap: SubscriptionGap) => void;
  /** Called once if the subscription ends for good other than by unsubscribing (no next owner in time). */
  onEnd?: (reason: RuntableError) => void;
  /** ms to wait for a next owner after the owner left; default 10000. */
  grace?: number;
}

/** What on() returns: call it to unsubscribe. */
export interface Subscription {
  (): void;
  /** Settles once the first owner has the subscription (rejects if it cannot be made). */
  readonly ready: Promise<void>;
  /** 'active': an owner has it; 'following': between owners, events are being missed; 'ended': for good. */
  readonly state: 'active' | 'following' | 'ended';
  /** How many times it lost its owner and was taken up by the next one. */
  readonly gaps: number;
  /** Settles when it ends for good: with the reason, or undefined when unsubscribed. */
  readonly ended: Promise<RuntableError | undefined>;
}

/** What following needs of a moniker's binding. */
export interface FollowHost {
  readonly moniker: string;
  /** Where the moniker lives now, as the proxy knows it (resolving if it must). */
  current(): Promise<Target>;
  /** Where it lives now, looked up afresh. */
  resolve(): Promise<Target>;
  /** The table's watch of a prefix; absent, the subscription cannot follow and ends with its owner. */
  watch?: (prefix: string, signal: AbortSignal) => AsyncIterable<TableEvent>;
}

type Listener = (...args: unknown[]) => void;

/** Subscribes `listener` to `event` of the moniker's object, wherever the moniker goes next. */
export function follow(host: FollowHost, event: string, listener: Listener, options: SubscribeOptions): Subscription {
  const { moniker } = host;
  const grace = options.grace ?? DEFAULT_FOLLOW_GRACE_MS;
  if (!(grace >= 0)) throw new RuntableError('BAD_ARGUMENT', 'grace must be a number of ms');
  const stop = new AbortController();
  let state: Subscription['state'] = 'active';
  // A function, not a comparison: TypeScript would keep a narrowing of `state` across awaits.
  const isEnded = () => state === 'ended';
  let gaps = 0;
  let current: { target: Target; off: () => void } | undefined;
  let gapSince: Date | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  // Between owners the subscription is still open, and holds the process as it did at an owner
  // (where the call session holds it); its watch does not hold it (keep-alive.ts).
  let unholdBetween: (() => void) | undefined;
  let settle: (reason: RuntableError | undefined) => void = () => {};
  const ended = new Promise<RuntableError | undefined>((resolve) => {
    settle = resolve;
  });
  // One step at a time: a watch event, a closed connection and the first binding never interleave.
  let steps: Promise<void> = Promise.resolve();
  const serial = (step: () => Promise<void>) => {
    steps = steps.then(step).catch(() => {});
  };

  const end = (reason: RuntableError | undefined) => {
    if (state === 'ended') return;
    state = 'ended';
    clearTimeout(graceTimer);
    unholdBetween?.();
    stop.abort();
    current?.off();
    current = undefined;
    settle(reason);
    if (reason) options.onEnd?.(reason);
  };

  /** The owner we heard is gone: wait for the next, for `grace` ms at most. */
  const lose = (target: Target) => {
    if (state === 'ended' || current?.target !== target) return;
    current.off();
    current = undefined;
    state = 'following';
    unholdBetween ??= holdOnce();
    gapSince ??= new Date();
    clearTimeout(graceTimer);
    graceTimer = setTimeout(
      () =>
        end(
          new RuntableError(
            'NOT_REGISTERED',
            `no owner of ${moniker} came back within ${grace} ms; the subscription to "${event}" ended`,
          ),
        ),
      grace,
    );
    // A guard: the hold above keeps the process up while the subscription waits.
    graceTimer.unref();
  };

  const attach = async (target: Target) => {
    const off = await target.session.listen(target.object, event, listener);
    if (isEnded()) {
      off();
      return;
    }
    current = { target, off };
    unholdBetween?.();
    unholdBetween = undefined;
    void target.session.whenClosed.then(() => {
      lose(target);
      // The next owner may be there already, with no event to say so (a restart the watch saw as no news).
      serial(() => moveTo(host.resolve));
    });
    if (gapSince) {
      const gap: SubscriptionGap = { since: gapSince, until: new Date(), pid: target.pid };
      gapSince = undefined;
      gaps++;
      clearTimeout(graceTimer);
      state = 'active';
      options.onGap?.(gap);
    }
  };

  /** Subscribes at wherever `find` says the moniker lives, if that is not where we already are. */
  const moveTo = async (find: () => Promise<Target>) => {
    if (state === 'ended') return;
    let target: Target;
    try {
      target = await find();
    } catch {
      return;
    }
    if (isEnded() || (current?.target.session === target.session && current.target.object === target.object)) {
      return;
    }
    if (current) {
      // Replaced while we listened: the old owner stops serving the object.
      current.off();
      current = undefined;
      gapSince ??= new Date();
    }
    await attach(target);
  };

  const ready = host.current().then(attach);
  ready.catch((error: RuntableError) => end(error));

  if (host.watch) {
    const events = host.watch(moniker, stop.signal);
    void (async () => {
      try {
        for await (const change of events) {
          if (change.entry.moniker !== moniker) continue;
          if (change.type === 'revoked') {
            const pid = change.entry.pid;
            serial(async () => {
              if (current && current.target.pid === pid) lose(current.target);
            });
          } else if (change.type === 'registered') {
            const pid = change.entry.pid;
            serial(async () => {
              await ready;
              // The owner we hear (the watch's first view of it, most often): nothing to look up.
              // Its own revoke, had it re-registered, would have come first and cleared `current`.
              if (current && current.target.pid === pid) return;
              await moveTo(host.resolve);
            });
          }
        }
      } catch (error) {
        if (!stop.signal.aborted) end(error as RuntableError);
        return;
      }
      // The watch ended without our asking: the table was closed, and nothing can be followed.
      if (!stop.signal.aborted) {
        end(new RuntableError('TABLE_UNAVAILABLE', `the table was closed; the subscription to "${event}" ended`));
      }
    })();
  }

  const unsubscribe = () => end(undefined);
  return Object.defineProperties(unsubscribe, {
    ready: { value: ready, enumerable: true },
    state: { get: () => state, enumerable: true },
    gaps: { get: () => gaps, enumerable: true },
    ended: { value: ended, enumerable: true },
  }) as Subscription;
}

/** A subscription that could not be made: `ready` rejects with `error`, and it has ended. */
export function failedSubscription(error: RuntableError): Subscription {
  const ready = Promise.reject(error);
  ready.catch(() => {});
  return Object.defineProperties(() => {}, {
    ready: { value: ready, enumerable: true },
    state: { value: 'ended', enumerable: true },
    gaps: { value: 0, enumerable: true },
    ended: { value: Promise.resolve(error), enumerable: true },
  }) as Subscription;
}
