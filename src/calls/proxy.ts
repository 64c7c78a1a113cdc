// Proxies: a Remote<T> stands for an object registered under a moniker, not for one process.
// It resolves the moniker on first use and again after its owner goes, but never retries a call
// that may have run. Control operations are free functions over a symbol, so they never
// collide with the object's own method names.

import { RuntableError } from '../errors.js';
import { ByReference, RefKind } from '../wire/codec.js';
import { type Call, Kind, type Unnumbered } from '../wire/protocol.js';
import { type FollowHost, failedSubscription, follow, type SubscribeOptions, type Subscription } from './follow.js';
import type { CallSession } from './session.js';
import type { CallOptions, OneWay, Ref, Remote } from './types.js';

/** Where a moniker lives now. */
export interface Target {
  session: CallSession;
  object: number;
  /** The owner's pid, when known. */
  pid?: number;
}

export type Resolve = (moniker: string) => Promise<Target>;

/** How a moniker's subscriptions follow it (see follow.ts): a look-up that starts nothing, and the table's watch. */
export interface Following {
  resolve: Resolve;
  watch: NonNullable<FollowHost['watch']>;
}

export type { SubscribeOptions, Subscription, SubscriptionGap } from './follow.js';

/** What a proxy's methods go through: a moniker's object, or a reference on one connection. */
interface Binding {
  call(method: string, args: unknown[], options: CallOptions): Promise<unknown>;
  oneway(method: string, args: unknown[]): void;
  subscribe(event: string, listener: (...args: unknown[]) => void, options: SubscribeOptions): Subscription;
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

  readonly #following: Following | undefined;

  constructor(moniker: string, resolve: Resolve, stacks: boolean, target?: Target, following?: Following) {
    this.moniker = moniker;
    this.#resolve = resolve;
    this.#stacks = stacks;
    this.#target = target;
    this.#following = following;
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

  subscribe(event: string, listener: (...args: unknown[]) => void, options: SubscribeOptions): Subscription {
    const following = this.#following;
    return follow(
      {
        moniker: this.moniker,
        current: async () => (this.#target && !this.#target.session.closed ? this.#target : await this.#bind()),
        resolve: () => (following ? following.resolve(this.moniker) : this.#bind()),
        ...(following ? { watch: following.watch } : {}),
      },
      event,
      listener,
      options,
    );
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

  subscribe(): Subscription {
    return failedSubscription(
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

export function createRemote<T>(
  moniker: string,
  resolve: Resolve,
  stacks: boolean,
  target?: Target,
  following?: Following,
): Remote<T> {
  return makeProxy<Remote<T>>({
    binding: new MonikerBinding(moniker, resolve, stacks, target, following),
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

/** A view of `proxy` whose calls send no reply and wait for nothing. */
export function oneway<T>(proxy: Remote<T>): OneWay<T> {
  return makeProxy<OneWay<T>>({ ...stateOf(proxy), oneway: true });
}

/** A view of `proxy` whose calls use these options (a timeout, an AbortSignal). */
export function withOptions<P>(proxy: P, options: CallOptions): P {
  const state = stateOf(proxy);
  return makeProxy<P>({ ...state, options: { ...state.options, ...options } });
}

/**
 * Calls `listener` for every `event` the owner emits (reg.emit), following the moniker to its
 * next owner (see follow.ts); returns the Subscription, which unsubscribes when called.
 */
export function on(
  proxy: unknown,
  event: string,
  listener: (...args: never[]) => void,
  options: SubscribeOptions = {},
): Subscription {
  const state = stateOf(proxy);
  if (typeof event !== 'string') throw new RuntableError('BAD_ARGUMENT', 'an event name must be a string');
  if (typeof listener !== 'function') throw new RuntableError('BAD_ARGUMENT', 'a listener must be a function');
  return state.binding.subscribe(event, listener as (...args: unknown[]) => void, options);
}

/** Marks `value` to travel by reference: the receiver gets a proxy calling back to this process. */
export function ref<T extends object>(value: T): Ref<T> {
  if (typeof value !== 'object' || value === null) throw new RuntableError('BAD_ARGUMENT', 'ref() takes an object');
  return new ByReference(RefKind.Object, value) as unknown as Ref<T>;
}
