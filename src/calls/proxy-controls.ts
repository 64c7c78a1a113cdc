// What users do with a proxy besides calling it: one-way and option-carrying views of it,
// subscriptions to its owner's events, and ref() for values sent by reference. Free functions
// over the proxy's state (proxy.ts), so they never collide with the object's own method names.

import { RuntableError } from '../errors.js';
import { checkOptions, ms, signal } from '../options.js';
import { ByReference, RefKind } from '../wire/codec.js';
import type { SubscribeOptions, Subscription } from './follow.js';
import { BINDING, makeProxy, type ProxyState } from './proxy.js';
import type { CallOptions, EventsOf, ObjectOf, OneWay, Ref, RemoteOf } from './types.js';

function stateOf(proxy: unknown): ProxyState {
  const state = (proxy as { [BINDING]?: ProxyState } | null)?.[BINDING];
  if (!state) throw new RuntableError('BAD_ARGUMENT', 'expected a proxy returned by table.get()');
  return state;
}

/**
 * A view of `proxy` whose calls send no reply and wait for nothing: fire and forget. Errors on
 * the owner's side are not reported back; calls still arrive in the order they were made.
 * @example `oneway(server).log('started')`
 * @throws {RuntableError} `BAD_ARGUMENT` if `proxy` is not one from `table.get()` or a reference.
 */
export function oneway<P extends RemoteOf<unknown, unknown>>(proxy: P): OneWay<ObjectOf<P>> {
  return makeProxy<OneWay<ObjectOf<P>>>({ ...stateOf(proxy), oneway: true });
}

/**
 * A view of `proxy` whose calls use these options: a `timeout` (ms; `TIMEOUT` when it passes)
 * and an abort `signal` (`ABORTED`; the owner sees it in `callContext().signal`).
 * @example `await withOptions(server, { timeout: 500 }).slowCall()`
 * @throws {RuntableError} `BAD_ARGUMENT` if `proxy` is not one from `table.get()` or a reference.
 */
export function withOptions<P>(proxy: P, options: CallOptions): P {
  const state = stateOf(proxy);
  checkOptions('withOptions()', options, { timeout: ms, signal });
  return makeProxy<P>({ ...state, options: { ...state.options, ...options } });
}

/** The event names on() takes for a proxy of type P: those of its event map, or any string. */
export type EventName<P> = keyof EventsOf<P> & string;

/** The arguments a listener of `event` K of a proxy of type P receives. */
export type EventArgs<P, K extends EventName<P>> = EventsOf<P>[K] extends infer A extends unknown[] ? A : never;

/**
 * Calls `listener` with the arguments of every `event` the owner emits (`reg.emit(event, ...)`);
 * returns the Subscription, which unsubscribes when called. The subscription follows the moniker
 * to its next owner (a standby, a restart, an activation), as calls do (see follow.ts), and says
 * what happened in between (`onGap`, `onEnd`, `state`, `gaps`, `ended`). Typed by the event map
 * given to `table.get<T, Events>()`: a misspelt event or a listener of the wrong arguments does
 * not compile; without a map, any name and any listener go.
 * @example
 * ```ts
 * const off = on(server, 'progress', (pct: number) => console.log(pct));
 * await off.ready;
 * ```
 * @throws {RuntableError} `BAD_ARGUMENT` for a proxy not from `table.get()`, an event name that
 * is not a string, or a listener that is not a function.
 */
export function on<P, K extends EventName<P>>(
  proxy: P,
  event: K,
  listener: (...args: EventArgs<P, K>) => void,
  options: SubscribeOptions = {},
): Subscription {
  const state = stateOf(proxy);
  if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
  if (typeof listener !== 'function') throw new RuntableError('BAD_ARGUMENT', 'a listener must be a function');
  return state.binding.subscribe(event, listener as (...args: unknown[]) => void, options);
}

/**
 * Marks `value` to travel by reference, as an argument or a result: the receiver gets a
 * `Remote` whose calls come back to this process. It lives while the connection does, and is
 * released when the receiver's proxy is garbage collected.
 * @example `return ref({ inc: () => ++n, value: () => n })`
 * @throws {RuntableError} `BAD_ARGUMENT` if `value` is not an object.
 */
export function ref<T extends object>(value: T): Ref<T> {
  if (typeof value !== 'object' || value === null) throw new RuntableError('BAD_ARGUMENT', 'ref() takes an object');
  return new ByReference(RefKind.Object, value) as unknown as Ref<T>;
}
