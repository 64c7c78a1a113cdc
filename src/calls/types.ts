// The types that make remote calls checked like local ones. Remote<T> maps each method of T to
// one returning a Promise of its awaited result, with references and streams mapped to what
// actually arrives: a Remote of the referenced object, an async iterator of the items.

declare const REFERENCE: unique symbol;

/** An object that travels by reference: made by ref(obj); arrives as Remote<T>. */
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

/** The methods of T, each returning a Promise of its awaited result; `_private` names dropped. */
export type Remote<T> = {
  [K in keyof T as K extends `_${string}` ? never : T[K] extends AnyFunction ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<RemoteValue<Awaited<R>>>
    : never;
};

/** Methods of a one-way view: nothing to wait for. */
export type OneWay<T> = {
  [K in keyof Remote<T>]: Remote<T>[K] extends (...args: infer A) => unknown ? (...args: A) => void : never;
};

/** A function as the receiving side holds it: calling it calls back into the sender. */
export type RemoteFunction<F extends AnyFunction> = (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;

export interface CallOptions {
  /** ms before the call rejects with TIMEOUT; the table's default otherwise. */
  timeout?: number;
  /** Aborting rejects the call with ABORTED and tells the owner (see callContext). */
  signal?: AbortSignal;
}
