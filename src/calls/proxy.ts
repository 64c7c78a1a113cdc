// Proxies: a Remote<T> stands for an object registered under a moniker, not for one process.
// It resolves the moniker on first use and again after its owner goes, but never retries a call
// that may have run. Control operations are free functions over a symbol, so they never
// collide with the object's own method names.

import { RuntableError } from '../errors.js';
import type { Connection } from '../wire/connection.js';
import { type Call, Kind, type Unnumbered } from '../wire/protocol.js';

// biome-ignore lint/suspicious/noExplicitAny: the widest function type, for matching only.
type AnyFunction = (...args: any[]) => any;

/** The methods of T, each returning a Promise of its awaited result; `_private` names dropped. */
export type Remote<T> = {
  [K in keyof T as K extends `_${string}` ? never : T[K] extends AnyFunction ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** Methods of a one-way view: nothing to wait for. */
export type OneWay<T> = {
  [K in keyof Remote<T>]: Remote<T>[K] extends (...args: infer A) => unknown ? (...args: A) => void : never;
};

export interface CallOptions {
  /** ms before the call rejects with TIMEOUT; the table's default otherwise. */
  timeout?: number;
  /** Aborting rejects the call with ABORTED. */
  signal?: AbortSignal;
}

/** Where a moniker lives now. */
export interface Target {
  connection: Connection;
  object: number;
}

export type Resolve = (moniker: string) => Promise<Target>;

const BINDING = Symbol('runtable.binding');

class Binding {
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
    if (target && !target.connection.closed) return this.#send(target, method, args, options, true);
    return this.#resolveAndSend(method, args, options, true);
  }

  oneway(method: string, args: unknown[]): void {
    // Nobody waits for a one-way call, so a failure to deliver it can only be a warning.
    const warn = (error: Error) =>
      process.emitWarning(`runtable: one-way call ${method} on ${this.moniker} was not delivered: ${error.message}`);
    const send = (t: Target) => {
      try {
        t.connection.send({ ...this.#message(t, method, args), id: 0 } as Call);
      } catch (error) {
        warn(error as Error);
      }
    };
    const target = this.#target;
    if (target && !target.connection.closed) send(target);
    else this.#bind().then(send, warn);
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
    return target.connection.request(this.#message(target, method, args), options).catch((error: RuntableError) => {
      if (error.code === 'OBJECT_GONE' || error.code === 'NOT_REGISTERED') {
        if (this.#target === target) this.#target = undefined;
      }
      // NOT_REGISTERED from an endpoint means the method never ran there: safe to look again.
      if (error.code === 'NOT_REGISTERED' && mayRetry) return this.#resolveAndSend(method, args, options, false);
      throw error;
    });
  }
}

interface ProxyState {
  binding: Binding;
  options: CallOptions;
  oneway: boolean;
}

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

export function createRemote<T>(moniker: string, resolve: Resolve, stacks: boolean, target?: Target): Remote<T> {
  return makeProxy<Remote<T>>({ binding: new Binding(moniker, resolve, stacks, target), options: {}, oneway: false });
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
