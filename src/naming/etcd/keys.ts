// How the table lies in etcd: one key per entry, attached to its owner's lease, and one key per
// process waiting in line for a moniker. Values are JSON, so etcdctl shows them as they are.
// Decoding never throws: a key under our prefix that is not ours, or is corrupt, is skipped.

import os from 'node:os';
import type { WireEntry } from '../../wire/protocol.js';
import { toEntry } from '../../wire/validate.js';

/** Version of the stored entry format; an entry of another version is skipped. */
export const ENTRY_FORMAT = 1;

export class KeyLayout {
  /** Ends with "/". */
  readonly root: string;

  constructor(prefix: string) {
    this.root = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  get entries(): string {
    return `${this.root}entries/`;
  }

  entry(moniker: string): string {
    return `${this.entries}${moniker}`;
  }

  /** Every moniker's line. */
  get lines(): string {
    return `${this.root}queue/`;
  }

  /** The line for `moniker`: one key per waiting process, ordered by create revision. */
  line(moniker: string): string {
    // The moniker may hold "/": a NUL (never in a moniker) ends it, so "a" and "a/b" share no line.
    return `${this.lines}${moniker}\u0000/`;
  }

  /** The moniker whose line holds `key` (a place in it). */
  lineMonikerOf(key: string): string | undefined {
    const end = key.indexOf('\u0000/', this.lines.length);
    return key.startsWith(this.lines) && end >= 0 ? key.slice(this.lines.length, end) : undefined;
  }

  place(moniker: string, lease: string): string {
    return `${this.line(moniker)}${lease}`;
  }

  monikerOf(key: string): string | undefined {
    return key.startsWith(this.entries) ? key.slice(this.entries.length) : undefined;
  }
}

interface StoredEntry {
  v: number;
  moniker: string;
  pid: number;
  /** The owner's host name, for people reading etcd; calls use the endpoint. */
  host: string;
  endpoint: string;
  object: number;
  methods: string[];
  metadata: Record<string, unknown>;
  registeredAt: number;
  changedAt: number;
}

export function encodeEntry(entry: WireEntry): string {
  const stored: StoredEntry = {
    v: ENTRY_FORMAT,
    moniker: entry.moniker,
    pid: entry.pid,
    host: os.hostname(),
    endpoint: entry.endpoint,
    object: entry.object,
    methods: entry.methods,
    metadata: entry.metadata,
    registeredAt: entry.registeredAt.getTime(),
    changedAt: entry.changedAt.getTime(),
  };
  return JSON.stringify(stored);
}

/** Keys already warned about, so that one bad key is reported once, not on every list. */
const warned = new Set<string>();
const MAX_WARNED = 1000;

/** The entry stored under `key`, or undefined (with one warning) if it is not a valid one. */
export function decodeEntry(key: string, value: Buffer | string, layout: KeyLayout): WireEntry | undefined {
  const moniker = layout.monikerOf(key);
  try {
    const stored = JSON.parse(value.toString()) as StoredEntry;
    if (stored?.v !== ENTRY_FORMAT) throw new Error(`format ${String(stored?.v)} is not ${ENTRY_FORMAT}`);
    if (stored.moniker !== moniker) throw new Error('its moniker is not its key');
    if (typeof stored.endpoint !== 'string' || !stored.endpoint.startsWith('tcp://')) {
      throw new Error('its endpoint is not tcp://host:port');
    }
    return toEntry({
      moniker: stored.moniker,
      pid: stored.pid,
      endpoint: stored.endpoint,
      object: stored.object,
      methods: stored.methods,
      metadata: stored.metadata,
      registeredAt: date(stored.registeredAt),
      changedAt: date(stored.changedAt),
    });
  } catch (error) {
    if (!warned.has(key)) {
      if (warned.size >= MAX_WARNED) warned.clear();
      warned.add(key);
      process.emitWarning(
        // The reason may quote the stored bytes: no control characters reach the log.
        `skipped etcd key ${JSON.stringify(key)}: not a runtable entry (${printable((error as Error).message)})`,
        'RuntableWarning',
      );
    }
    return undefined;
  }
}

function date(ms: unknown): Date {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new Error('a date is not a number of ms');
  return new Date(ms);
}

function printable(text: string): string {
  return Array.from(text, (char) => (char.charCodeAt(0) < 0x20 || char === '\u007f' ? '?' : char)).join('');
}
