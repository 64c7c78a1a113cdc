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

/**
 * What a value returned by a method becomes at the caller: a `Ref<U>` arrives as `Remote<U>`, an
 * async iterable as an async iterator of its items, anything else as itself (a copy).
 */
export type RemoteValue<R> =
  R extends Ref<infer U>
    ? Remote<U>
    : R extends AsyncIterable<infer Item>
      ? AsyncIterableIterator<RemoteValue<Item>>
      : R;

/**
 * A proxy of `T` as `table.get<T>()` gives it: the methods of `T`, each returning a Promise of
 * its awaited result, so that TypeScript checks remote calls like local ones. Properties that
 * are not methods, and names beginning with `_`, are not there.
 */
export type Remote<T> = {
  [K in keyof T as K extends `_${string}` ? never : T[K] extends AnyFunction ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<RemoteValue<Awaited<R>>>
    : never;
};

/** What `oneway(proxy)` gives: the same methods, returning nothing; no reply is sent or awaited. */
export type OneWay<T> = {
  [K in keyof Remote<T>]: Remote<T>[K] extends (...args: infer A) => unknown ? (...args: A) => void : never;
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
