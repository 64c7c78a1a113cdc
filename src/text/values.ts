// Call arguments in, call results out. Arguments are JSON, with a bare word taken as a string;
// results become JSON for a pipe (a fixed mapping for what JSON lacks) or Node's own rendering
// for a terminal. A remote object or function in a result is shown, never called. The CLI and
// the viewer both use it, so it sits in neither.

import { inspect, types } from 'node:util';
import { UsageError } from './usage.js';

/** Meant as JSON, so a parse failure is a mistake rather than a word: an object, array or string. */
const JSON_START = /^\s*[[{"]/;

/** Each argument as JSON; a bare word that is not JSON (hello, 1.2.3, 2024-01-01) is a string. */
export function parseCallArgs(args: string[]): unknown[] {
  return args.map((text, index) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      if (!JSON_START.test(text)) return text;
      const why = (error as Error).message;
      throw new UsageError(
        `argument ${index + 1} (${abbreviate(text)}) is not valid JSON: ${why}; quote a string as '"text"'`,
        'call',
      );
    }
  });
}

function abbreviate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** A stream result: what a method returning an async iterable gives its caller. */
export function isStream(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !types.isProxy(value) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * A value JSON.stringify takes as is: Date as ISO string, BigInt as a string of digits,
 * Uint8Array/Buffer as base64, other typed arrays as arrays, Set as array, Map as object (or
 * array of [key, value] pairs if a key is not a string), Error as {name, message, code, cause},
 * undefined as null, remote objects and functions as "[remote object]"/"[remote function]".
 */
export function toJsonValue(value: unknown, seen = new WeakSet<object>()): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function') return '[remote function]';
  if (typeof value !== 'object' || value === null) return value;
  // Looked at before anything else: reading a property of a remote object would call it.
  if (types.isProxy(value)) return '[remote object]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof Uint8Array)
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    if (ArrayBuffer.isView(value))
      return Array.from(value as unknown as ArrayLike<unknown>, (item) => toJsonValue(item, seen));
    if (value instanceof ArrayBuffer) return Buffer.from(value).toString('base64');
    if (Array.isArray(value)) return value.map((item) => toJsonValue(item, seen));
    if (value instanceof Set) return [...value].map((item) => toJsonValue(item, seen));
    if (value instanceof Map) {
      const pairs = [...value.entries()];
      if (pairs.every(([key]) => typeof key === 'string')) {
        return Object.fromEntries(pairs.map(([key, item]) => [key, toJsonValue(item, seen)]));
      }
      return pairs.map(([key, item]) => [toJsonValue(key, seen), toJsonValue(item, seen)]);
    }
    if (value instanceof Error) {
      const record: Record<string, unknown> = { name: value.name, message: value.message };
      const code = (value as { code?: unknown }).code;
      if (code !== undefined) record.code = toJsonValue(code, seen);
      if (value.cause !== undefined) record.cause = toJsonValue(value.cause, seen);
      return record;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = toJsonValue(item, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

export function formatJson(value: unknown, pretty = false): string {
  return JSON.stringify(toJsonValue(value), null, pretty ? 2 : undefined);
}

const REMOTE_OBJECT = { [inspect.custom]: () => '[remote object]' };
const REMOTE_FUNCTION = { [inspect.custom]: () => '[remote function]' };

/** Node's rendering, for a person; `oneLine` for stream items. */
export function formatReadable(value: unknown, colors: boolean, oneLine = false): string {
  return inspect(markRemotes(value), {
    colors,
    depth: 8,
    ...(oneLine ? { breakLength: Number.POSITIVE_INFINITY, compact: true } : {}),
  });
}

function markRemotes(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'function') return REMOTE_FUNCTION;
  if (typeof value !== 'object' || value === null) return value;
  if (types.isProxy(value)) return REMOTE_OBJECT;
  if (seen.has(value) || ArrayBuffer.isView(value) || value instanceof Date || value instanceof Error) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => markRemotes(item, seen));
  if (value instanceof Set) return new Set([...value].map((item) => markRemotes(item, seen)));
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [key, markRemotes(item, seen)]));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, markRemotes(item, seen)]));
}
