// Errors as they cross a connection: a thrown error becomes an ErrorRecord on its way out, and a
// record becomes a RuntableError on its way in. Stacks leave a process only when asked for.

import { type ErrorCode, isErrorCode, RuntableError } from '../errors.js';
import { reviveError } from './codec.js';
import type { ErrorRecord } from './protocol.js';

/** An error thrown by user code, as it leaves this process: REMOTE, its stack only if asked for. */
export function toErrorRecord(error: unknown, withStack: boolean): ErrorRecord {
  const thrown = error instanceof Error ? error : new Error(String(error));
  const record: ErrorRecord = { code: 'REMOTE', message: thrown.message, name: thrown.name };
  const code = (thrown as Error & { code?: unknown }).code;
  if (code !== undefined) record.remoteCode = code;
  if (withStack && thrown.stack) record.stack = thrown.stack;
  if (thrown.cause !== undefined) record.cause = withStack ? thrown.cause : withoutStacks(thrown.cause, 8);
  return record;
}

/** Stack traces stay home unless asked for: they show paths and code of this process. */
function withoutStacks(value: unknown, depth: number): unknown {
  if (!(value instanceof Error)) return value;
  const cause = depth > 0 && value.cause !== undefined ? withoutStacks(value.cause, depth - 1) : undefined;
  const copy = new Error(value.message, cause === undefined ? undefined : { cause });
  Object.defineProperty(copy, 'name', { value: value.name, writable: true, configurable: true });
  const code = (value as Error & { code?: unknown }).code;
  if (code !== undefined) (copy as Error & { code?: unknown }).code = code;
  Reflect.deleteProperty(copy, 'stack');
  return copy;
}

/** Rebuilds a RuntableError from its record; REMOTE keeps the thrown error's name, code and stack. */
export function toRuntableError(record: ErrorRecord): RuntableError {
  const code = isErrorCode(record.code) ? record.code : 'PROTOCOL';
  if (code !== 'REMOTE') return new RuntableError(code, record.message);
  const remote = {
    name: typeof record.name === 'string' ? record.name : 'Error',
    message: record.message,
    ...(record.remoteCode === undefined ? {} : { code: record.remoteCode }),
    ...(typeof record.stack === 'string' ? { stack: record.stack } : {}),
  };
  const cause = record.cause === undefined || record.cause instanceof Error ? record.cause : reviveError(record.cause);
  // The message is the remote one, as thrown; the remote error's name is on `remote.name`.
  return new RuntableError('REMOTE', record.message, { remote, cause });
}

/** Any failure as a RuntableError: one already is; anything else gets `fallback` as its code. */
export function asRuntableError(error: unknown, fallback: ErrorCode): RuntableError {
  if (error instanceof RuntableError) return error;
  return new RuntableError(fallback, (error as Error)?.message ?? String(error), { cause: error });
}
