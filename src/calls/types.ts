// The types that make remote calls checked like local ones. Remote<T> maps each method of T to
// one returning a Promise of its awaited result, with references and streams mapped to what
// actually arrives: a Remote of the referenced object, an async iterator of the items.

declare const REFERENCE: unique symbol;

/** An object that travels by reference: made by `ref(obj)`; the receiver gets a `Remote<T>`. */
export interface Ref<T extends object> {
  readonly [REFERENCE]: T;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest function type, for matching only.
type AnyFunction = (...args: any[]) => any;

/** Values that arrive as they were sent (README, Values). */
type AsIs =
  | string
  | number
  | boolean
  | bigint
  | symbol
  | null
  | undefined
  | Date
  | Error
  | ArrayBufferLike
  | ArrayBufferView
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>;

/**
 * What a value returned by a method becomes at the caller. Objects arrive as their own data,
 * as structuredClone makes them: a class's methods stay home, while a function held in a property
 * arrives as a RemoteFunction; the types cannot tell the two apart, so a function-typed property
 * is `RemoteFunction | undefined`, and calling a class's method on a result fails to compile.
 */
export type RemoteValue<R> = unknown extends R
  ? R
  : R extends Ref<infer U>
    ? Remote<U>
    : R extends AsyncIterable<infer Item>
      ? AsyncIterableIterator<RemoteValue<Item>>
      : R extends AnyFunction
        ? RemoteFunction<R>
        : R extends AsIs
          ? R
          : R extends readonly unknown[]
            ? { [I in keyof R]: RemoteValue<R[I]> }
            : R extends object
              ? RemoteData<R>
              : R;

/** An object as it arrives: its own data, function-typed properties maybe absent. */
export type RemoteData<T> = {
  [K in keyof T]: T[K] extends AnyFunction ? RemoteFunction<T[K]> | undefined : RemoteValue<T[K]>;
};

/**
 * Events an owner emits, by name: the arguments each carries, as a tuple (the convention of
 * @types/node's EventEmitter<T>): `{ progress: [done: number, total: number]; finished: [] }`.
 */
export type EventMap<E> = { [K in keyof E]: unknown[] };

/** No events declared: any name, any arguments (on() is then as loose as an EventEmitter's). */
// biome-ignore lint/suspicious/noExplicitAny: a listener of undeclared events may take anything.
export type AnyEvents = Record<string, any[]>;

/** Carries what a Remote stands for, for oneway() and on(); type-only: no such property exists at run time. */
declare const REMOTE: unique symbol;

/** The object type and event map a proxy stands for. */
export interface RemoteOf<T, E> {
  readonly [REMOTE]?: { readonly object: T; readonly events: E };
}

/** The event map of proxy type P; AnyEvents for a proxy (or any value) that declares none. */
export type EventsOf<P> =
  P extends RemoteOf<unknown, infer E> ? (unknown extends E ? AnyEvents : Exclude<E, undefined>) : AnyEvents;

/** The object type proxy type P stands for. */
export type ObjectOf<P> = P extends RemoteOf<infer T, unknown> ? T : never;

type Equal<X, Y> = (<G>() => G extends X ? 1 : 2) extends <G>() => G extends Y ? 1 : 2 ? true : false;
/** `S`, unless the overload it stands for is the same as the next one (a method with fewer overloads). */
type Distinct<S, A, R, NextA, NextR> = Equal<[A, R], [NextA, NextR]> extends true ? unknown : S;

type Call<A extends unknown[], R> = (...args: A) => Promise<RemoteValue<Awaited<R>>>;

/**
 * A method as the proxy has it: each of its overloads (up to four, as far as TypeScript can take
 * them apart) returning a Promise of its awaited result. Generic methods lose their type parameters.
 */
export type RemoteMethod<F> = F extends {
  (...args: infer A1 extends unknown[]): infer R1;
  (...args: infer A2 extends unknown[]): infer R2;
  (...args: infer A3 extends unknown[]): infer R3;
  (...args: infer A4 extends unknown[]): infer R4;
}
  ? Distinct<Call<A1, R1>, A1, R1, A2, R2> &
      Distinct<Call<A2, R2>, A2, R2, A3, R3> &
      Distinct<Call<A3, R3>, A3, R3, A4, R4> &
      Call<A4, R4>
  : never;

/** The same method called one way: every overload, returning nothing to wait for. */
export type OneWayMethod<F> = F extends {
  (...args: infer A1 extends unknown[]): infer R1;
  (...args: infer A2 extends unknown[]): infer R2;
  (...args: infer A3 extends unknown[]): infer R3;
  (...args: infer A4 extends unknown[]): infer R4;
}
  ? Distinct<(...args: A1) => void, A1, R1, A2, R2> &
      Distinct<(...args: A2) => void, A2, R2, A3, R3> &
      Distinct<(...args: A3) => void, A3, R3, A4, R4> &
      ((...args: A4) => void)
  : never;

/** The method names of T a proxy has: functions (optional ones too), minus `_private` names. */
type MethodKey<T, K extends keyof T> = K extends `_${string}`
  ? never
  : NonNullable<T[K]> extends AnyFunction
    ? K
    : never;

/**
 * A proxy of `T` as `table.get<T>()` gives it: the methods of `T`, each returning a Promise of
 * its awaited result, so that TypeScript checks remote calls like local ones. Properties that
 * are not methods, and names beginning with `_`, are not there; optional methods stay optional.
 * `E` declares the events the owner emits, for on().
 */
export type Remote<T, E extends EventMap<E> = AnyEvents> = {
  [K in keyof T as MethodKey<T, K>]: RemoteMethod<NonNullable<T[K]>>;
} & RemoteOf<T, E>;

/** What `oneway(proxy)` gives: the same methods, returning nothing; no reply is sent or awaited. */
export type OneWay<T> = {
  [K in keyof T as MethodKey<T, K>]: OneWayMethod<NonNullable<T[K]>>;
};

/**
 * A function passed as an argument, as the receiving side holds it: calling it calls back into
 * the process that sent it, and returns a Promise of its result.
 */
export type RemoteFunction<F extends AnyFunction> = (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;

/** Options of the calls made through `withOptions(proxy, options)`. */
export interface CallOptions {
  /** ms before the call rejects with `TIMEOUT`. Default: `connect()`'s `timeout` (30000). */
  timeout?: number;
  /** Aborting rejects the call with ABORTED and tells the owner (see callContext). */
  signal?: AbortSignal;
}
