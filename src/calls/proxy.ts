// Proxies: a Remote<T> stands for an object registered under a moniker, not for one process.
// It resolves the moniker on first use and again after its owner goes, but never retries a call
// that may have run. Control operations are free functions over a symbol, so they never
// collide with the object's own method names.

import { RuntableError } from '../errors.js';
import { checkValue } from '../wire/codec.js';
import type { CallRequest } from '../wire/connection.js';
import { type Call, Kind, type TraceContext, type Unnumbered } from '../wire/protocol.js';
import { REMOTE_MARK } from '../wire/values.js';
import { atCallSite } from './call-site.js';
import type { CallChannel } from './channel.js';
import { callsWatched, finished, outcomeOf, started, type Watched, watchedCall } from './diagnostics.js';
import { type FollowHost, failedSubscription, follow, type SubscribeOptions, type Subscription } from './follow.js';
import { clientSpan, tracing } from './tracing.js';
import type { AnyEvents, CallOptions, EventMap, Remote } from './types.js';

/** Where a moniker lives now. */
export interface Target {
  session: CallChannel;
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
  /** How the proxy reads as a string: `[Remote SampleServer/alpha]`. */
  readonly label: string;
  /** The call's outcome; a failure has the caller's stack (call-site.ts). */
  call(method: string, args: unknown[], options: CallOptions): Promise<unknown>;
  oneway(method: string, args: unknown[]): void;
  subscribe(event: string, listener: (...args: unknown[]) => void, options: SubscribeOptions): Subscription;
}

export const BINDING = Symbol('runtable.binding');

function warnUndelivered(what: string, error: Error): void {
  process.emitWarning(`runtable: one-way call ${what} was not delivered: ${error.message}`);
}

class MonikerBinding implements Binding {
  readonly moniker: string;
  readonly label: string;
  readonly #resolve: Resolve;
  readonly #stacks: boolean;
  #target: Target | undefined;

  readonly #following: Following | undefined;

  constructor(moniker: string, resolve: Resolve, stacks: boolean, target?: Target, following?: Following) {
    this.moniker = moniker;
    this.label = `[Remote ${moniker}]`;
    this.#resolve = resolve;
    this.#stacks = stacks;
    this.#target = target;
    this.#following = following;
  }

  call(method: string, args: unknown[], options: CallOptions): Promise<unknown> {
    if (callsWatched() || tracing()) return atCallSite(this.#watchedCall(method, args, options));
    const target = this.#target;
    // A call fails with the caller's stack (session.ts, restack): no async hop on the way.
    if (target && !target.session.closed) return this.#send(target, method, args, options, true);
    return atCallSite(this.#resolveAndSend(method, args, options, true));
  }

  oneway(method: string, args: unknown[]): void {
    const watched = callsWatched() || tracing() ? this.#watch(method, true) : undefined;
    const trace = watched ? clientSpan(watched) : undefined;
    const target = this.#target;
    // Arguments that cannot travel are the caller's to hear about, at once (BAD_ARGUMENT).
    if (target && !target.session.closed) {
      try {
        target.session.notify({ ...this.#message(target, method, args, trace), id: 0 } as Call);
      } catch (error) {
        if (watched) finished(watched, outcomeOf(error), (error as Error).message);
        throw error;
      }
      if (watched) finished(watched, 'ok');
      return;
    }
    checkValue(args, 'args');
    // Nobody waits for a one-way call, so a failure to deliver it later can only be a warning.
    const send = (bound: Target) => {
      try {
        bound.session.notify({ ...this.#message(bound, method, args, trace), id: 0 } as Call);
        if (watched) this.#finish(watched, 'ok');
      } catch (error) {
        if (watched) this.#finish(watched, outcomeOf(error));
        warnUndelivered(`${method} on ${this.moniker}`, error as Error);
      }
    };
    this.#bind().then(send, (error: Error) => {
      if (watched) this.#finish(watched, outcomeOf(error));
      warnUndelivered(`${method} on ${this.moniker}`, error);
    });
  }

  /**
   * A call with its diagnostics events or its span (or both); the target may be looked up on the
   * way, so end says where it went.
   */
  #watchedCall(method: string, args: unknown[], options: CallOptions): Promise<unknown> {
    const watched = this.#watch(method, false);
    const trace = clientSpan(watched);
    const target = this.#target;
    const sent =
      target && !target.session.closed
        ? this.#send(target, method, args, options, true, trace)
        : this.#resolveAndSend(method, args, options, true, trace);
    return watchedCall(sent, watched, () => this.#located(watched));
  }

  #watch(method: string, oneway: boolean): Watched {
    const target = this.#target;
    return started('call', this.moniker, method, target?.object ?? 0, false, target?.session.peerPid ?? 0, oneway);
  }

  /** Fills in where the moniker was found, if it was looked up after the start. */
  #located(watched: Watched): void {
    const target = this.#target;
    if (!target) return;
    watched.event.target = target.object;
    watched.event.peerPid = target.session.peerPid;
  }

  #finish(watched: Watched, outcome: string): void {
    this.#located(watched);
    finished(watched, outcome);
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

  #message(target: Target, method: string, args: unknown[], trace?: TraceContext): Unnumbered<Call> {
    const message: Unnumbered<Call> = { kind: Kind.Call, target: target.object, method, args };
    if (this.#stacks) message.stack = true;
    if (trace) message.trace = trace;
    return message;
  }

  async #bind(): Promise<Target> {
    const target = await this.#resolve(this.moniker);
    this.#target = target;
    return target;
  }

  async #resolveAndSend(
    method: string,
    args: unknown[],
    options: CallOptions,
    mayRetry: boolean,
    trace?: TraceContext,
  ): Promise<unknown> {
    return this.#send(await this.#bind(), method, args, options, mayRetry, trace);
  }

  #send(
    target: Target,
    method: string,
    args: unknown[],
    options: CallOptions,
    mayRetry: boolean,
    trace?: TraceContext,
  ): Promise<unknown> {
    const call = new MonikerCall(this, target, method, args, options, mayRetry, this.#stacks, trace);
    return target.session.call(call, options);
  }

  /** What a failed call turns into: the moniker looked up again, or the failure. */
  recovered(call: MonikerCall, error: RuntableError): unknown {
    if (error.code === 'OBJECT_GONE' || error.code === 'NOT_REGISTERED') {
      if (this.#target === call.target) this.#target = undefined;
    }
    // NOT_REGISTERED from an endpoint means the method never ran there: safe to look again.
    if (error.code === 'NOT_REGISTERED' && call.mayRetry) {
      return this.#resolveAndSend(call.method, call.args, call.options, false, call.trace);
    }
    throw error;
  }
}

/**
 * One call through a moniker: what is sent, and what its retry needs. It is also the call's
 * Recover, so that a call makes this one object and no closure.
 */
class MonikerCall implements CallRequest {
  readonly object: number;

  constructor(
    readonly binding: MonikerBinding,
    readonly target: Target,
    readonly method: string,
    readonly args: unknown[],
    readonly options: CallOptions,
    readonly mayRetry: boolean,
    readonly stack: boolean,
    readonly trace: TraceContext | undefined,
  ) {
    this.object = target.object;
  }

  recover(error: RuntableError): unknown {
    return this.binding.recovered(this, error);
  }
}

/** An object passed by ref(): bound to the connection it came on, and gone with it. */
class ReferenceBinding implements Binding {
  readonly #session: CallChannel;
  readonly #ref: number;
  readonly label: string;

  constructor(session: CallChannel, ref: number) {
    this.#session = session;
    this.#ref = ref;
    this.label = `[Remote reference ${ref} from pid ${session.peerPid}]`;
  }

  call(method: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return atCallSite(this.#session.invoke(this.#ref, method, args, options));
  }

  oneway(method: string, args: unknown[]): void {
    if (this.#session.closed) {
      warnUndelivered(method, new RuntableError('OBJECT_GONE', 'its connection is closed'));
      return;
    }
    const watched =
      callsWatched() || tracing()
        ? started('call', undefined, method, this.#ref, true, this.#session.peerPid, true)
        : undefined;
    const trace = watched ? clientSpan(watched) : undefined;
    try {
      // Arguments that cannot travel are the caller's to hear about, at once (BAD_ARGUMENT).
      this.#session.notify({ kind: Kind.Invoke, id: 0, ref: this.#ref, method, args, ...(trace ? { trace } : {}) });
    } catch (error) {
      if (watched) finished(watched, outcomeOf(error));
      throw error;
    }
    if (watched) finished(watched, 'ok');
  }

  subscribe(): Subscription {
    return failedSubscription(
      new RuntableError('BAD_ARGUMENT', 'events come from registered objects, not from references'),
    );
  }
}

export interface ProxyState {
  binding: Binding;
  options: CallOptions;
  oneway: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest function type, for the method cache.
type AnyFunction = (...args: any[]) => any;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Names a proxy answers itself, so that using it as a value (a template string, `+`, `==`,
 * JSON.stringify, util.inspect) never sends a call. toString and valueOf are Object.prototype
 * names, which exposure never lets a peer call anyway; toJSON is not, but a proxy answering it
 * remotely would turn JSON.stringify into a call whose Promise is written as {}: a remote
 * method named toJSON is not reachable through a proxy (documented in the README).
 */
const LOCAL_NAMES = new Set(['toString', 'toLocaleString', 'toJSON', 'valueOf']);

function localMember(state: ProxyState, property: string | symbol, proxy: object): unknown {
  const label = state.binding.label;
  switch (property) {
    case Symbol.toPrimitive:
      return (hint: string) => (hint === 'number' ? Number.NaN : label);
    case Symbol.toStringTag:
      return 'Remote';
    case INSPECT:
    case 'toString':
    case 'toLocaleString':
    case 'toJSON':
      return () => label;
    case 'valueOf':
      return () => proxy;
    default:
      // Other symbols (iterators among them) and the rest of Object.prototype: a remote object has none.
      return undefined;
  }
}

export function makeProxy<T>(state: ProxyState): T {
  const methods = new Map<string, AnyFunction>();
  // util.inspect and console.log look at a proxy's target, never through its traps.
  const target = Object.create(null) as Record<symbol, unknown>;
  Object.defineProperty(target, INSPECT, { value: () => state.binding.label, configurable: true });
  const proxy: object = new Proxy(target, {
    get(_, property) {
      // Methods already met first: this is every call's path.
      let method = methods.get(property as string);
      if (method) return method;
      if (property === BINDING) return state;
      if (property === REMOTE_MARK) return state.binding.label;
      // Not a thenable: `await proxy` must not call a remote `then`.
      if (typeof property !== 'string' || property === 'then') return localMember(state, property, proxy);
      if (property === 'toJSON' || property === 'constructor' || Object.hasOwn(Object.prototype, property)) {
        return localMember(state, property, proxy);
      }
      method = state.oneway
        ? (...args: unknown[]) => state.binding.oneway(property, args)
        : (...args: unknown[]) => state.binding.call(property, args, state.options);
      methods.set(property, method);
      return method;
    },
    set() {
      throw new RuntableError('BAD_ARGUMENT', 'a remote object has no settable properties; call a method instead');
    },
    has: (_, property) =>
      typeof property === 'string'
        ? property !== 'then' &&
          property !== 'constructor' &&
          (LOCAL_NAMES.has(property) || !Object.hasOwn(Object.prototype, property))
        : property === Symbol.toPrimitive || property === Symbol.toStringTag || property === INSPECT,
  });
  return proxy as T;
}

export function createRemote<T, E extends EventMap<E> = AnyEvents>(
  moniker: string,
  resolve: Resolve,
  stacks: boolean,
  target?: Target,
  following?: Following,
): Remote<T, E> {
  return makeProxy<Remote<T, E>>({
    binding: new MonikerBinding(moniker, resolve, stacks, target, following),
    options: {},
    oneway: false,
  });
}

export function createReferenceProxy(session: CallChannel, ref: number): object {
  return makeProxy<object>({ binding: new ReferenceBinding(session, ref), options: {}, oneway: false });
}
