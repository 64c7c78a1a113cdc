// Checks that a decoded value is a well-formed Message before anything acts on it. A peer can
// send any CBOR at all; past this file, every field has the type protocol.ts promises.

import { RuntableError } from '../errors.js';
import {
  type CallFigures,
  Kind,
  type Message,
  type StatisticsReport,
  type TraceContext,
  type WireEntry,
} from './protocol.js';

/** Entries of a Call's or Invoke's `trace` (traceparent, tracestate, and what else a propagator writes). */
export const MAX_TRACE_ENTRIES = 8;
/** Characters of a `trace` field's names and values together: W3C allows tracestate 512, baggage 8192. */
export const MAX_TRACE_CHARS = 8192;

type Fields = Record<string, unknown>;

export function fail(what: string): never {
  throw new RuntableError('PROTOCOL', `malformed message: ${what}`);
}

export function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

function uint(m: Fields, key: string): void {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${key} must be a non-negative integer`);
}

function str(m: Fields, key: string): void {
  if (typeof m[key] !== 'string') fail(`${key} must be a string`);
}

function optionalBool(m: Fields, key: string): void {
  if (m[key] !== undefined && typeof m[key] !== 'boolean') fail(`${key} must be a boolean`);
}

function optionalDate(m: Fields, key: string): void {
  const v = m[key];
  if (v !== undefined && !(v instanceof Date && !Number.isNaN(v.getTime()))) fail(`${key} must be a date`);
}

function stringArray(m: Fields, key: string): void {
  const v = m[key];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(`${key} must be an array of strings`);
}

/** Only a plain map: a Date, Set or typed array is an object too, but not metadata. */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  const prototype = isRecord(value) ? Object.getPrototypeOf(value) : undefined;
  return prototype === Object.prototype || prototype === null;
}

function metadata(m: Fields, key: string, optional: boolean): void {
  const value = m[key];
  if (optional && value === undefined) return;
  if (!isPlainMap(value)) fail(`${key} must be a map with string keys`);
}

function entry(value: unknown): asserts value is WireEntry {
  if (!isRecord(value)) fail('entry must be a map');
  str(value, 'moniker');
  uint(value, 'pid');
  str(value, 'endpoint');
  uint(value, 'object');
  stringArray(value, 'methods');
  metadata(value, 'metadata', false);
  if (!(value.registeredAt instanceof Date) || !(value.changedAt instanceof Date)) fail('entry dates');
}

function errorRecord(value: unknown): void {
  if (!isRecord(value)) fail('error must be a map');
  str(value, 'code');
  str(value, 'message');
}

/** True for a `trace` field a receiver takes: a map of text to text, within the limits above. */
export function traceContextFits(value: unknown): value is TraceContext {
  if (!isPlainMap(value)) return false;
  const keys = Object.keys(value);
  if (keys.length > MAX_TRACE_ENTRIES) return false;
  let chars = 0;
  for (const key of keys) {
    const text = value[key];
    if (typeof text !== 'string') return false;
    chars += key.length + text.length;
  }
  return chars <= MAX_TRACE_CHARS;
}

function optionalTrace(m: Fields): void {
  if (m.trace !== undefined && !traceContextFits(m.trace)) {
    fail(`trace must be a map of at most ${MAX_TRACE_ENTRIES} texts, ${MAX_TRACE_CHARS} characters in all`);
  }
}

function callRecord(value: unknown): void {
  if (!isRecord(value)) fail('a call record must be a map');
  str(value, 'moniker');
  str(value, 'method');
  uint(value, 'peerPid');
  str(value, 'outcome');
  uint(value, 'bytesIn');
  uint(value, 'bytesOut');
  for (const key of ['ms', 'endedAt']) {
    const v = value[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${key} must be a non-negative number`);
  }
  optionalBool(value, 'oneway');
  optionalBool(value, 'stream');
  optionalBool(value, 'callback');
  if (value.items !== undefined) uint(value, 'items');
  if (value.args !== undefined) str(value, 'args');
  if (value.result !== undefined) str(value, 'result');
}

const checks: Record<number, (m: Fields) => void> = {
  [Kind.Hello]: (m) => {
    uint(m, 'version');
    uint(m, 'pid');
    if (m.token !== undefined) str(m, 'token');
  },
  [Kind.Welcome]: (m) => {
    uint(m, 'version');
    uint(m, 'pid');
  },
  [Kind.Register]: (m) => {
    uint(m, 'id');
    str(m, 'moniker');
    str(m, 'endpoint');
    uint(m, 'object');
    stringArray(m, 'methods');
    metadata(m, 'metadata', false);
    optionalBool(m, 'replace');
    optionalBool(m, 'queue');
    optionalDate(m, 'registeredAt');
    optionalDate(m, 'changedAt');
  },
  [Kind.Revoke]: (m) => {
    uint(m, 'id');
    str(m, 'moniker');
  },
  [Kind.List]: (m) => {
    uint(m, 'id');
    str(m, 'prefix');
    optionalBool(m, 'parts');
  },
  // The batch itself is checked where it is read (naming/entry-batch.ts), as a List's Reply is.
  [Kind.ListPart]: (m) => {
    uint(m, 'id');
    if (!isRecord(m.value)) fail('value must be a map');
    uint(m.value, 'part');
  },
  [Kind.ListNames]: (m) => {
    uint(m, 'id');
    str(m, 'prefix');
  },
  [Kind.Lookup]: (m) => {
    uint(m, 'id');
    str(m, 'moniker');
  },
  [Kind.Touch]: (m) => {
    uint(m, 'id');
    str(m, 'moniker');
    metadata(m, 'metadata', true);
  },
  [Kind.Watch]: (m) => {
    uint(m, 'id');
    str(m, 'prefix');
  },
  [Kind.Unwatch]: (m) => {
    uint(m, 'id');
    uint(m, 'watch');
  },
  [Kind.Status]: (m) => uint(m, 'id'),
  [Kind.Activate]: (m) => {
    uint(m, 'id');
    str(m, 'moniker');
  },
  [Kind.Services]: (m) => uint(m, 'id'),
  [Kind.TableEvent]: (m) => {
    uint(m, 'watch');
    if (m.type !== 'registered' && m.type !== 'revoked' && m.type !== 'changed') fail('type');
    entry(m.entry);
  },
  [Kind.Lost]: (m) => str(m, 'moniker'),
  [Kind.Call]: (m) => {
    uint(m, 'id');
    uint(m, 'target');
    str(m, 'method');
    if (!Array.isArray(m.args)) fail('args must be an array');
    optionalBool(m, 'stack');
    optionalTrace(m);
  },
  [Kind.Invoke]: (m) => {
    uint(m, 'id');
    uint(m, 'ref');
    str(m, 'method');
    if (!Array.isArray(m.args)) fail('args must be an array');
    optionalBool(m, 'stack');
    optionalTrace(m);
  },
  [Kind.Cancel]: (m) => uint(m, 'call'),
  [Kind.Release]: (m) => {
    uint(m, 'ref');
    uint(m, 'count');
  },
  [Kind.Subscribe]: (m) => {
    uint(m, 'id');
    uint(m, 'target');
    str(m, 'event');
  },
  [Kind.Unsubscribe]: (m) => {
    uint(m, 'target');
    str(m, 'event');
  },
  [Kind.Event]: (m) => {
    uint(m, 'target');
    str(m, 'event');
    if (!Array.isArray(m.args)) fail('args must be an array');
  },
  [Kind.StreamItems]: (m) => {
    uint(m, 'stream');
    if (!Array.isArray(m.values)) fail('values must be an array');
  },
  [Kind.StreamCredit]: (m) => {
    uint(m, 'stream');
    uint(m, 'credit');
  },
  [Kind.StreamEnd]: (m) => {
    uint(m, 'stream');
    if (m.error !== undefined) errorRecord(m.error);
  },
  [Kind.StreamCancel]: (m) => uint(m, 'stream'),
  [Kind.Chunk]: (m) => {
    uint(m, 'transfer');
    uint(m, 'offset');
    uint(m, 'total');
    if (!(m.data instanceof Uint8Array)) fail('data must be a byte string');
    if (m.request !== undefined) uint(m, 'request');
    if (m.reply !== undefined) uint(m, 'reply');
  },
  [Kind.Statistics]: (m) => {
    uint(m, 'id');
    if ((m.moniker === undefined) === (m.prefix === undefined)) fail('Statistics needs a moniker or a prefix');
    if (m.moniker !== undefined) str(m, 'moniker');
    else str(m, 'prefix');
  },
  [Kind.Monitor]: (m) => {
    uint(m, 'id');
    str(m, 'prefix');
    optionalBool(m, 'values');
  },
  [Kind.Unmonitor]: (m) => uint(m, 'monitor'),
  [Kind.CallRecords]: (m) => {
    uint(m, 'monitor');
    if (!Array.isArray(m.records)) fail('records must be an array');
    for (const record of m.records) callRecord(record);
    if (m.missed !== undefined) uint(m, 'missed');
  },
  [Kind.Reply]: (m) => uint(m, 'id'),
  [Kind.Failure]: (m) => {
    uint(m, 'id');
    errorRecord(m.error);
  },
};

/** Returns the value as a Message, or throws RuntableError PROTOCOL naming what is wrong. */
export function toMessage(value: unknown): Message {
  if (!isRecord(value)) fail('not a map');
  const check = typeof value.kind === 'number' ? checks[value.kind] : undefined;
  if (!check) fail(`unknown kind ${String(value.kind)}`);
  check(value);
  return value as unknown as Message;
}

/** For entries inside replies, which are not validated with their envelope. */
export function toEntry(value: unknown): WireEntry {
  entry(value);
  return value;
}

function figures(value: unknown): asserts value is CallFigures {
  if (!isRecord(value)) fail('call figures must be a map');
  for (const key of ['calls', 'errors', 'p50', 'p90', 'p99', 'max']) {
    const v = value[key];
    if (typeof v !== 'number' || !(v >= 0)) fail(`${key} must be a non-negative number`);
  }
  if (!isPlainMap(value.outcomes) || !Object.values(value.outcomes).every((n) => typeof n === 'number' && n >= 0)) {
    fail('outcomes must map codes to counts');
  }
}

/** The value of a Reply to Statistics, checked: an owner's reply is as untrusted as any message. */
export function toStatisticsReports(value: unknown): StatisticsReport[] {
  if (!Array.isArray(value)) fail('a Statistics reply must be an array');
  for (const report of value) {
    if (!isRecord(report)) fail('a statistics report must be a map');
    str(report, 'moniker');
    uint(report, 'object');
    if (!(report.since instanceof Date) || Number.isNaN(report.since.getTime())) fail('since must be a date');
    if (!isPlainMap(report.methods)) fail('methods must be a map');
    for (const method of Object.values(report.methods)) figures(method);
    figures(report.total);
  }
  return value as StatisticsReport[];
}
