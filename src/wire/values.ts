// What a value may be on the wire, checked in the one walk that every encoded message takes:
// what structuredClone refuses (a Promise, a WeakMap, a Symbol...) is refused here, before
// anything is sent, with the path to it; functions and ref() objects become reference tags,
// Errors become Error tags. The caller's values are never changed: containers are copied only on
// the path to something replaced.

import { Tag } from 'cbor-x';
import { RuntableError } from '../errors.js';

/** Containers nested deeper than this are refused; so deep is almost always a cycle. */
export const MAX_VALUE_DEPTH = 512;

export const ERROR_TAG = 21108;
export const REFERENCE_TAG = 21109;

export const RefKind = { Function: 0, Object: 1, Stream: 2 } as const;
export type RefKind = (typeof RefKind)[keyof typeof RefKind];

/** What a runtable proxy answers, with its label, so that the walk can refuse it (calls/proxy.ts). */
export const REMOTE_MARK = Symbol('runtable.remote');

/** Wraps what travels by reference: a function, a ref() object or a stream. */
export class ByReference {
  constructor(
    readonly kind: RefKind,
    readonly value: object,
  ) {}
}

/** Exports a reference for the peer to call; absent where references cannot travel. */
export interface Exporter {
  exportReference(kind: RefKind, value: object): unknown[];
}

/** A property name, an array index, or a label written as it is (`[Set item 2]`). */
type Step = string | number | { label: string };

/** Thrown on the way down, given its path on the way back up (only a refusal pays for a path). */
class Refusal {
  readonly reason: string;
  /** Steps from the outermost container down, filled in reverse as the refusal climbs. */
  readonly trail: Step[] = [];
  /** For a refusal for depth: the containers on the path, innermost first, to find a cycle. */
  readonly containers: object[] | undefined;

  constructor(reason: string, tooDeep = false) {
    this.reason = reason;
    this.containers = tooDeep ? [] : undefined;
  }
}

/** References found in a walk, exported only once the whole value has passed. */
type Found = [Tag, RefKind, object][];

let found: Found | undefined;

/**
 * Checks `value` against the value rules and returns what the encoder should write: the value
 * itself when nothing needed replacing. Refusals are BAD_ARGUMENT naming the path. `field`: the
 * value is that field of a message whose envelope is written without a walk (cbor-encode.ts), and
 * is checked and named as prepareValue on the whole message would.
 */
export function prepareValue(value: unknown, exporter: Exporter | undefined, field?: string): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value !== 'function' && typeof value !== 'symbol') return value;
  }
  const outer = found;
  found = undefined;
  let prepared: unknown;
  try {
    prepared = walk(value, field === undefined ? 0 : 1);
  } catch (error) {
    found = outer;
    if (error instanceof Refusal) {
      // The message's own step; its container is a fresh message, never part of a loop.
      if (field !== undefined) climb(error, field, {});
      throw toError(error);
    }
    throw error;
  }
  const references = found as Found | undefined;
  found = outer;
  if (references) {
    if (!exporter) {
      throw new RuntableError(
        'BAD_ARGUMENT',
        'functions and references can only travel in calls, their results and events',
      );
    }
    for (const [tag, kind, target] of references) tag.value = exporter.exportReference(kind, target);
  }
  return prepared;
}

function toError(refusal: Refusal): RuntableError {
  const trail = refusal.trail.reverse();
  if (refusal.containers) {
    // Only a value refused for its depth is searched for a loop: the first container met twice,
    // from the top down, is where the loop closes. Cycles cost nothing until then.
    const containers = refusal.containers.reverse();
    const seen = new Map<object, number>();
    for (let k = 0; k < containers.length; k++) {
      const container = containers[k] as object;
      const j = seen.get(container);
      if (j !== undefined) {
        return new RuntableError(
          'BAD_ARGUMENT',
          `${pathOf(trail.slice(0, k))} is circular: it refers back to ${pathOf(trail.slice(0, j))}; circular data cannot be sent (send a copy without the loop)`,
        );
      }
      seen.set(container, k);
    }
  }
  return new RuntableError('BAD_ARGUMENT', `${pathOf(trail)} ${refusal.reason}`);
}

/** Steps of a path said in full; a longer one is cut in the middle. */
const PATH_STEPS_SHOWN = 24;

function pathOf(trail: Step[]): string {
  if (trail.length > PATH_STEPS_SHOWN) {
    const half = PATH_STEPS_SHOWN / 2;
    return `${pathOf(trail.slice(0, half))} …(${trail.length - 2 * half} more levels)… ${pathOf(trail.slice(-half))}`;
  }
  let path = '';
  for (const step of trail) {
    if (typeof step === 'object') path += `[${step.label}]`;
    else if (typeof step === 'number') path += `[${step}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(step)) path += path === '' ? step : `.${step}`;
    else path += `[${JSON.stringify(step)}]`;
  }
  return path === '' ? 'the value' : path;
}

/** "a Promise", "an AsyncGenerator": the value's class, with its article. */
function describe(value: object): string {
  const constructorName = (value as { constructor?: { name?: unknown } }).constructor?.name;
  const name =
    typeof constructorName === 'string' && constructorName !== ''
      ? constructorName
      : Object.prototype.toString.call(value).slice(8, -1);
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

function reference(kind: RefKind, value: object): Tag {
  const tag = new Tag(undefined, REFERENCE_TAG);
  found ??= [];
  found.push([tag, kind, value]);
  return tag;
}

/** Sets `key` on a copy: a `__proto__` key must stay an own key, never set the prototype. */
function put(copy: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  } else copy[key] = value;
}

/** A shallow copy of own enumerable properties that keeps a `__proto__` key an own key. */
function ownCopy(value: object): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) put(copy, key, (value as Record<string, unknown>)[key]);
  return copy;
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'function') return reference(RefKind.Function, value);
  if (typeof value === 'symbol') throw new Refusal('is a Symbol, which cannot be sent (send its description)');
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_VALUE_DEPTH) {
    throw new Refusal(`nests deeper than ${MAX_VALUE_DEPTH} levels (MAX_VALUE_DEPTH); send a flatter value`, true);
  }
  if (Array.isArray(value)) return walkArray(value, depth);
  // Byte strings first, the usual argument and result: no prototype look-up (a runtime call).
  if (ArrayBuffer.isView(value)) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype) return walkObject(value, depth, false);
  if (prototype === null) {
    // A proxy's target has no prototype; structuredClone refuses proxies, and so does runtable.
    const remote = (value as { [REMOTE_MARK]?: string })[REMOTE_MARK];
    if (remote !== undefined) {
      throw new Refusal(
        `is ${remote}, a proxy, which cannot be sent: send its moniker, or ref() an object of this process`,
      );
    }
    return walkObject(value, depth, false);
  }
  return walkOther(value, depth);
}

function walkArray(value: unknown[], depth: number): unknown {
  let copy: unknown[] | undefined;
  let i = 0;
  try {
    for (; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue;
      if (item === null) continue;
      const prepared = walk(item, depth + 1);
      if (prepared !== item) {
        copy ??= value.slice();
        copy[i] = prepared;
      }
    }
  } catch (error) {
    throw climb(error, i, value);
  }
  return copy ?? value;
}

/** Plain objects, and class instances, whose own enumerable data travels (as structuredClone does). */
function walkObject(value: object, depth: number, instance: boolean): unknown {
  let copy: Record<string, unknown> | undefined;
  let key = '';
  try {
    for (key in value) {
      if (instance && !Object.hasOwn(value, key)) continue;
      const item = (value as Record<string, unknown>)[key];
      if (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue;
      if (item === null) continue;
      const prepared = walk(item, depth + 1);
      if (prepared !== item) {
        copy ??= ownCopy(value);
        put(copy, key, prepared);
      }
    }
  } catch (error) {
    throw climb(error, key, value);
  }
  return copy ?? value;
}

/** Adds this level's step to a refusal on its way up. */
function climb(error: unknown, step: Step, container: object): unknown {
  if (!(error instanceof Refusal)) return error;
  error.trail.push(step);
  error.containers?.push(container);
  return error;
}

/** Objects that structuredClone refuses (and RegExp, which runtable's wire has no form for). */
const REFUSED: [abstract new (...args: never[]) => object, string][] = [
  [WeakMap, 'which cannot be sent (its keys cannot be listed)'],
  [WeakSet, 'which cannot be sent (its members cannot be listed)'],
  [WeakRef, 'which cannot be sent (send what it refers to)'],
  [FinalizationRegistry, 'which cannot be sent'],
  [RegExp, 'which does not travel (send its source and flags)'],
  [SharedArrayBuffer, 'which cannot be shared across processes (copy it into a Uint8Array)'],
];

function walkOther(value: object, depth: number): unknown {
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof ArrayBuffer || value instanceof Tag) {
    return value;
  }
  if (value instanceof Map) return walkMap(value, depth);
  if (value instanceof Set) return walkSet(value, depth);
  if (value instanceof Error) return errorTag(value, depth);
  if (value instanceof ByReference) return reference(value.kind, value.value);
  if (value instanceof Promise || typeof (value as { then?: unknown }).then === 'function') {
    throw new Refusal(`is ${describe(value)}, which cannot be sent: await it first (a missing await?)`);
  }
  for (const [type, why] of REFUSED) {
    if (value instanceof type) throw new Refusal(`is ${describe(value)}, ${why}`);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt) {
    return value.valueOf();
  }
  if (value instanceof Symbol) throw new Refusal('is a Symbol, which cannot be sent (send its description)');
  if (typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') {
    throw new Refusal(
      `is ${describe(value)}, an async iterable: streams travel only as the whole result of a method (return it)`,
    );
  }
  // Any other object travels as its own enumerable data, as structuredClone carries it; an
  // iterable one is copied first, or the encoder would write its items instead.
  if (typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    return walkObject(ownCopy(value), depth, false);
  }
  return walkObject(value, depth, true);
}

function walkMap(value: Map<unknown, unknown>, depth: number): unknown {
  let entries: [unknown, unknown][] | undefined;
  let i = 0;
  let at: unknown;
  try {
    for (const [key, item] of value) {
      at = key;
      const preparedKey = walk(key, depth + 1);
      const prepared = walk(item, depth + 1);
      if (!entries && (preparedKey !== key || prepared !== item)) entries = [...value].slice(0, i);
      entries?.push([preparedKey, prepared]);
      i++;
    }
  } catch (error) {
    const key = typeof at === 'string' ? JSON.stringify(at) : typeof at === 'number' ? String(at) : `#${i}`;
    throw climb(error, { label: `Map entry ${key}` }, value);
  }
  return entries ? new Map(entries) : value;
}

function walkSet(value: Set<unknown>, depth: number): unknown {
  let items: unknown[] | undefined;
  let i = 0;
  try {
    for (const item of value) {
      const prepared = walk(item, depth + 1);
      if (!items && prepared !== item) items = [...value].slice(0, i);
      items?.push(prepared);
      i++;
    }
  } catch (error) {
    throw climb(error, { label: `Set item ${i}` }, value);
  }
  return items ? new Set(items) : value;
}

/** An Error as it travels under ERROR_TAG (PROTOCOL.md, the value table). */
export interface ErrorFields {
  name: string;
  message: string;
  code?: unknown;
  stack?: string;
  cause?: unknown;
}

function errorTag(error: Error & { code?: unknown }, depth: number): Tag {
  const fields: ErrorFields = { name: String(error.name), message: String(error.message) };
  let step = 'code';
  try {
    if (error.code !== undefined) fields.code = walk(error.code, depth + 1);
    if (typeof error.stack === 'string') fields.stack = error.stack;
    step = 'cause';
    if (error.cause !== undefined) fields.cause = walk(error.cause, depth + 1);
  } catch (thrown) {
    throw climb(thrown, step, error);
  }
  return new Tag(fields, ERROR_TAG);
}
