// What a table holds of a registration, whichever backend holds it (the local broker, etcd): the
// entry it makes, and the checks its metadata must pass first.

import { RuntableError } from '../errors.js';
import { encode } from '../wire/codec.js';
import type { WireEntry } from '../wire/protocol.js';
import type { RegistrationRecord } from './backend.js';

/** Encoded size of one entry's metadata. */
export const MAX_METADATA_BYTES = 16 * 1024;

/**
 * Levels of nesting in one entry's metadata. Small JSON is shallow; a value nested a thousand
 * deep still decodes, but may then overflow the stack when every List or TableEvent encodes it.
 */
export const MAX_METADATA_DEPTH = 32;

/** Whether `value` nests deeper than `levels`; it stops looking at the limit. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || value instanceof Date) return false;
  if (levels === 0) return true;
  const children =
    value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? [...value]
        : value instanceof Error
          ? [value.cause, ...Object.values(value)]
          : Object.values(value);
  return children.some((child) => deeperThan(child, levels - 1));
}

export function checkMetadata(metadata: Record<string, unknown>): void {
  if (deeperThan(metadata, MAX_METADATA_DEPTH)) {
    throw new RuntableError(
      'BAD_ARGUMENT',
      `metadata nests deeper than ${MAX_METADATA_DEPTH} levels; keep it small and flat, and large data behind a method`,
    );
  }
  const bytes = encode(metadata).length;
  if (bytes > MAX_METADATA_BYTES) {
    throw new RuntableError(
      'BAD_ARGUMENT',
      `metadata is ${bytes} bytes encoded; the limit is ${MAX_METADATA_BYTES}. Keep large data behind a method`,
    );
  }
}

/** The entry `message` registers for process `pid`: dated now, unless it comes back from before. */
export function entryOf(message: RegistrationRecord, pid: number): WireEntry {
  const now = new Date();
  return {
    moniker: message.moniker,
    pid,
    endpoint: message.endpoint,
    object: message.object,
    methods: message.methods,
    metadata: message.metadata,
    registeredAt: message.registeredAt ?? now,
    changedAt: message.changedAt ?? now,
  };
}
