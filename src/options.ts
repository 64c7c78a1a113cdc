// Checks of the options the public API takes (connect, register, watch, withOptions): a wrong
// type, an out-of-range number or a misspelt name is BAD_ARGUMENT at once, naming the option and
// what it takes, never an instant TIMEOUT or a silently ignored setting later.

import { RuntableError } from './errors.js';

/** Checks one option's value (known to be present, not undefined); throws what is wrong with it. */
type Check = (value: unknown) => string | undefined;

/** A short, safe rendering of a value the caller passed, for messages. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A duration in ms: 0 or more, or Infinity for none. */
export const ms: Check = (value) =>
  typeof value === 'number' && value >= 0 ? undefined : 'a number of ms, 0 or more (Infinity for none)';

export const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : 'true or false');

export const string: Check = (value) => (typeof value === 'string' ? undefined : 'a string');

export const positiveInteger: Check = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? undefined : 'a whole number above 0';

export const signal: Check = (value) => (value instanceof AbortSignal ? undefined : 'an AbortSignal');

export const plainObject: Check = (value) => (isPlainObject(value) ? undefined : 'a plain object');

export const strings: Check = (value) =>
  Array.isArray(value) && value.every((item) => typeof item === 'string') ? undefined : 'an array of strings';

/**
 * Checks `options` of `where` (such as "connect()") against `checks`: an options object, each
 * known option of the right kind (undefined counts as absent), and no option it does not know.
 */
export function checkOptions(where: string, options: unknown, checks: Readonly<Record<string, Check>>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RuntableError('BAD_ARGUMENT', `${where} takes an options object, not ${shown(options)}`);
  }
  for (const name of Object.keys(options)) {
    const check = Object.hasOwn(checks, name) ? checks[name] : undefined;
    if (!check) {
      throw new RuntableError(
        'BAD_ARGUMENT',
        `${where} has no option ${JSON.stringify(name)}; its options are ${Object.keys(checks).join(', ')}`,
      );
    }
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const wanted = check(value);
    if (wanted)
      throw new RuntableError('BAD_ARGUMENT', `${where} option ${name} must be ${wanted}, not ${shown(value)}`);
  }
}
