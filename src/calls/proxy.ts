// Proxies: a Remote<T> stands for an object registered under a moniker, not for one process.
// It resolves the moniker on first use and again after its owner goes, but never retries a call
// that may have run. Control operations are free functions over a symbol, so they never
// collide with the object's own method names.

import { RuntableError } from '../errors.js';
import { checkOptions, ms, signal } from '../options.js';
import { ByReference, RefKind } from '../wire/codec.js';
import { type Call, Kind, type Unnumbered } from '../wire/protocol.js';
import type { CallSession } from './session.js';
import type { AnyEvents, CallOptions, EventMap, EventsOf, ObjectOf, OneWay, Ref, Remote, RemoteOf } from './types.js';

/** Where a moniker lives now. */
export interface Target {
  session: CallSession;
  object: number;
}

export type Resolve = (moniker: string) => Promise<Target>;

/** What a proxy's methods go through: a moniker's object, or a reference on one connection. */
interface Binding {
  call(method: string, args: unknown[], options: CallOptions): Promise<unknown>;
  oneway(method: string, args: unknown[]): void;
  listen(event: string, listener: (...args: unknown[]) => void): Promise<() => void>;
}

const BINDING = Symbol('runtable.binding');

function warnUndelivered(what: string, error: Error): void {
  process.emitWarning(`runtable: one-way call ${what} was not delivered: ${error.message}`);
}

class MonikerBinding implements Binding {
  readonly moniker: string;
  readonly #resolve: Resolve;
  readonly #stacks: boolean;
  #target: Target | undefined;

  constructor(moniker: string, resolve: Resolve, stacks: boolean, target?: Target) {
    this.moniker = moniker;
    this.#resolve = resolve;
    this.#stacks = stacks;
    this.#target = target;
  }

  call(method: string, args: unknown[], options: CallOptions): Promise<unknown> {
    const target = this.#target;
    if (target && !target.session.closed) return this.#send(target, method, args, options, true);
    return this.#resolveAndSend(method, args, options, true);
  }

  oneway(method: string, args: unknown[]): void {
    // Nobody waits for a one-way call, so a failure to deliver it can only be a warning.
    const send = (target: Target) => {
      try {
        target.session.notify({ ...this.#message(target, method, args), id: 0 } as Call);
      } catch (error) {
        warnUndelivered(`${method} on ${this.moniker}`, error as Error);
      }
    };
    const target = this.#target;
    if (target && !target.session.closed) send(target);
    else this.#bind().then(send, (error: Error) => warnUndelivered(`${method} on ${this.moniker}`, error));
  }

  async listen(event: string, listener: (...args: unknown[]) => void): Promise<() => void> {
    const target = this.#target && !this.#target.session.closed ? this.#target : await this.#bind();
    return target.session.listen(target.object, event, listener);
  }

  #message(target: Target, method: string, args: unknown[]): Unnumbered<Call> {
    const message: Unnumbered<Call> = { kind: Kind.Call, target: target.object, method, args };
    if (this.#stacks) message.stack = true;
    return message;
  }

  async #bind(): Promise<Target> {
    const target = await this.#resolve(this.moniker);
    this.#target = target;
    return target;
  }

  async #resolveAndSend(method: string, args: unknown[], options: CallOptions, mayRetry: boolean): Promise<unknown> {
    return this.#send(await this.#bind(), method, args, options, mayRetry);
  }

  #send(target: Target, method: string, args: unknown[], options: CallOptions, mayRetry: boolean): Promise<unknown> {
    return target.session.call(this.#message(target, method, args), options, (error: RuntableError) => {
      if (error.code === 'OBJECT_GONE' || error.code === 'NOT_REGISTERED') {
        if (this.#target === target) this.#target = undefined;
      }
      // NOT_REGISTERED from an endpoint means the method never ran there: safe to look again.
      if (error.code === 'NOT_REGISTERED' && mayRetry) return this.#resolveAndSend(method, args, options, false);
      throw error;
    });
  }
}

/** An object passed by ref(): bound to the connection it came on, and gone with it. */
class ReferenceBinding implements Binding {
  readonly #session: CallSession;
  readonly #ref: number;

  constructor(session: CallSession, ref: number) {
    this.#session = session;
    this.#ref = ref;
  }

  call(method: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return this.#session.invoke(this.#ref, method, args, options);
  }

  oneway(method: string, args: unknown[]): void {
    try {
      this.#session.notify({ kind: Kind.Invoke, id: 0, ref: this.#ref, method, args });
    } catch (error) {
      warnUndelivered(method, error as Error);
    }
  }

  listen(): Promise<() => void> {
    return Promise.reject(
      new RuntableError('BAD_ARGUMENT', 'events come from registered objects, not from references'),
    );
  }
}

interface ProxyState {
  binding: Binding;
  options: CallOptions;
  oneway: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest function type, for the method cache.
type AnyFunction = (...args: any[]) => any;

function makeProxy<T>(state: ProxyState): T {
  const methods = new Map<string, AnyFunction>();
  return new Proxy(Object.create(null) as object, {
    get(_, property) {
      if (property === BINDING) return state;
      // Not a thenable: `await proxy` must not call a remote `then`.
      if (typeof property !== 'string' || property === 'then') return undefined;
      let method = methods.get(property);
      if (!method) {
        method = state.oneway
          ? (...args: unknown[]) => state.binding.oneway(property, args)
          : (...args: unknown[]) => state.binding.call(property, args, state.options);
        methods.set(property, method);
      }
      return method;
    },
    set() {
      throw new RuntableError('BAD_ARGUMENT', 'a remote object has no settable properties; call a method instead');
    },
    has: (_, property) => typeof property === 'string' && property !== 'then',
  }) as T;
}

export function createRemote<T, E extends EventMap<E> = AnyEvents>(
  moniker: string,
  resolve: Resolve,
  stacks: boolean,
  target?: Target,
): Remote<T, E> {
  return makeProxy<Remote<T, E>>({
    binding: new MonikerBinding(moniker, resolve, stacks, target),
    options: {},
    oneway: false,
  });
}

export function createReferenceProxy(session: CallSession, ref: number): object {
  return makeProxy<object>({ binding: new ReferenceBinding(session, ref), options: {}, oneway: false });
}

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

/** What `on()` returns: call it to unsubscribe. */
export interface Subscription {
  (): void;
  /**
   * Resolves once the owner has the subscription (events emitted before that are not seen);
   * rejects like a call would (`NOT_REGISTERED`, `OBJECT_GONE`, `TIMEOUT`) if it cannot be made.
   */
  readonly ready: Promise<void>;
}

/** The event names on() takes for a proxy of type P: those of its event map, or any string. */
export type EventName<P> = keyof EventsOf<P> & string;

/** The arguments a listener of `event` K of a proxy of type P receives. */
export type EventArgs<P, K extends EventName<P>> = EventsOf<P>[K] extends infer A extends unknown[] ? A : never;

/**
 * Calls `listener` with the arguments of every `event` the owner emits (`reg.emit(event, ...)`);
 * returns the unsubscribe function. Typed by the event map given to `table.get<T, Events>()`: a
 * misspelt event or a listener of the wrong arguments does not compile; without a map, any name
 * and any listener go.
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
): Subscription {
  const state = stateOf(proxy);
  if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
  if (typeof listener !== 'function') throw new RuntableError('BAD_ARGUMENT', 'a listener must be a function');
  let off: (() => void) | undefined;
  let cancelled = false;
  const ready = state.binding.listen(event, listener as (...args: unknown[]) => void).then((stop) => {
    if (cancelled) stop();
    else off = stop;
  });
  // A failed subscription is reported through `ready`; nobody need be listening to it.
  ready.catch(() => {});
  const unsubscribe = () => {
    cancelled = true;
    off?.();
    off = undefined;
  };
  return Object.assign(unsubscribe, { ready });
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
