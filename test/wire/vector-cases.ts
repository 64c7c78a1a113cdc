// The golden vectors' cases: every message of the union in protocol.ts and every value type of
// PROTOCOL.md 3.2, built through the code that sends them where there is such code (entry rows,
// error records, chunks). scripts/make-vectors.ts writes them to docs/vectors/; the vector test
// builds them again and fails on any difference from the files.

import { EntryRows } from '../../src/broker/entry-rows.ts';
import { joinNames } from '../../src/broker/name-rows.ts';
import { ObjectCounters } from '../../src/calls/statistics.ts';
import { CHUNK_BYTES, ChunkSender } from '../../src/wire/chunks.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { toErrorRecord } from '../../src/wire/error-record.ts';
import {
  type Chunk,
  type EntryBatch,
  Kind,
  type Message,
  PROTOCOL_VERSION,
  type WireEntry,
} from '../../src/wire/protocol.ts';
import { RefKind, reference } from './vector-forms.ts';

export interface VectorCase {
  /** The file name, without .json. */
  name: string;
  description: string;
  /** What the bytes are: one message, a bare value, or a sequence of messages. */
  type: 'message' | 'value' | 'sequence';
  /** For message and value vectors. */
  value?: unknown;
  /** For sequences: each message with who sends it. */
  steps?: { from: string; value: unknown; bytes?: Uint8Array }[];
  /** Byte strings inside the value that hold CBOR of their own: where, by path of keys. */
  nested?: string[][];
  /** Frames on a call connection may carry references (tag 21109). */
  references?: boolean;
}

const TOKEN = '0123456789abcdef'.repeat(4);
const CLIENT_PID = 4242;
const OWNER_PID = 4100;
const ENDPOINT = '/run/user/1000/runtable/o4100-1.sock';
const REGISTERED = new Date('2026-11-23T20:00:00.250Z');
const CHANGED = new Date('2026-11-23T20:00:05.000Z');
/** The W3C Trace Context specification's own example. */
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function entry(moniker: string, extra: Partial<WireEntry> = {}): WireEntry {
  return {
    moniker,
    pid: OWNER_PID,
    endpoint: ENDPOINT,
    object: 1,
    methods: ['sendData', 'received'],
    metadata: { name: 'alpha', startedBy: 'target-app' },
    registeredAt: REGISTERED,
    changedAt: CHANGED,
    ...extra,
  };
}

/** An error with a fixed stack, so that the vector does not depend on where it was made. */
function error(name: string, message: string, extra: { code?: unknown; stack?: string; cause?: unknown } = {}): Error {
  const made = new Error(message, extra.cause === undefined ? undefined : { cause: extra.cause });
  Object.defineProperty(made, 'name', { value: name, writable: true, configurable: true });
  if (extra.code !== undefined) (made as Error & { code?: unknown }).code = extra.code;
  if (extra.stack === undefined) Reflect.deleteProperty(made, 'stack');
  else made.stack = extra.stack;
  return made;
}

/** A request as Connection.request writes it: the id goes last. */
function request<M extends object>(message: M, id: number): M & { id: number } {
  return Object.assign(message, { id });
}

function message(name: string, description: string, value: Message, more: Partial<VectorCase> = {}): VectorCase {
  return { name, description, type: 'message', value, ...more };
}

function value(name: string, description: string, item: unknown): VectorCase {
  return { name, description, type: 'value', value: item };
}

function entryBatch(): unknown {
  const rows = new EntryRows();
  const second = entry('SampleServer/beta', { object: 2, metadata: {}, methods: ['sendData'] });
  const other = entry('SampleServer/gamma', {
    pid: 4300,
    endpoint: '/run/user/1000/runtable/o4300-1.sock',
    metadata: {},
  });
  return rows.pack([
    { owner: 1, entry: entry('SampleServer/alpha') },
    { owner: 1, entry: second },
    { owner: 2, entry: other },
  ]);
}

/** The NameBatch of three monikers, one of them not ASCII, written as the broker writes it. */
function nameBatch(): unknown {
  const monikers = ['SampleServer/alpha', 'SampleServer/beta', 'SampleServer/gamma/é'];
  return joinNames(monikers, [0, 1, 2], 0, monikers.length);
}

/**
 * A Reply to Statistics as an owner builds it: SampleServer/alpha's counters after a known
 * sequence of calls (durations in ms), with a fixed `since` so that the bytes stay the same.
 */
function statisticsReport(): unknown {
  const counters = new ObjectCounters('SampleServer/alpha', 1, ['received', 'sendData']);
  const sendData = counters.method('sendData');
  for (const ms of [0.05, 0.06, 0.08, 0.09, 0.12, 0.2, 0.35, 1.5]) sendData.record('ok', ms);
  sendData.record('REMOTE', 0.4);
  sendData.record('BAD_ARGUMENT', 0.03);
  counters.unknownMethod();
  return [{ ...counters.report(), since: REGISTERED }];
}

/** A Call over one chunk's size, and the Chunk messages the JS sender cuts it into. */
function chunkedCall(): VectorCase {
  const call = request(
    { kind: Kind.Call, target: 1, method: 'sendData', args: [Buffer.alloc(CHUNK_BYTES + 1000, 0x61)] },
    9,
  ) as Message;
  const whole = encode(call);
  const sender = new ChunkSender(() => {});
  sender.add(whole, { request: 9 });
  const steps: VectorCase['steps'] = [];
  for (let next = sender.next(); next; next = sender.next()) {
    const bytes = Buffer.concat(next as Uint8Array[]);
    steps.push({ from: 'client', value: decode(bytes) as Chunk, bytes });
  }
  return {
    name: 'sequence-chunked-call',
    description: `A Call of ${whole.length} bytes (one argument: ${CHUNK_BYTES + 1000} bytes of "a") sent as a transfer of two Chunk messages, as the JS sender cuts it. Concatenating the chunks' data gives the Call's encoding; "whole" is the Call.`,
    type: 'sequence',
    steps,
    value: call,
  };
}

/** A stream of 70 numbers: the Reply that starts it, credit, two batches and the end. */
function streamWithCredit(): VectorCase {
  const numbers = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  return {
    name: 'sequence-stream-with-credit',
    description:
      'A call whose method returns an async iterable of 70 numbers, as the JS owner and caller run it: the Reply carries stream reference 1, the consumer grants 256 items of credit, the producer sends batches of at most 64 items, then StreamEnd. (A longer stream would see StreamCredit {credit: 128} each time the consumer has read 128 items.)',
    type: 'sequence',
    references: true,
    steps: [
      { from: 'client', value: request({ kind: Kind.Call, target: 1, method: 'ticks', args: [70] }, 7) },
      { from: 'owner', value: { kind: Kind.Reply, id: 7, value: reference(RefKind.Stream, 1) } },
      { from: 'client', value: { kind: Kind.StreamCredit, stream: 1, credit: 256 } },
      { from: 'owner', value: { kind: Kind.StreamItems, stream: 1, values: numbers(0, 64) } },
      { from: 'owner', value: { kind: Kind.StreamItems, stream: 1, values: numbers(64, 70) } },
      { from: 'owner', value: { kind: Kind.StreamEnd, stream: 1 } },
    ],
  };
}

export function vectorCases(): VectorCase[] {
  const thrown = error('TypeError', 'cannot parse the order', {
    code: 'E_PARSE',
    stack: 'TypeError: cannot parse the order\n    at parse (/srv/app/orders.js:10:5)',
    cause: error('RangeError', 'line 3 is too long', {
      stack: 'RangeError: line 3 is too long\n    at read (/srv/app/lines.js:4:9)',
      cause: error('Error', 'disk quota exceeded', {
        code: 'EDQUOT',
        stack: 'Error: disk quota exceeded\n    at write (/srv/app/disk.js:2:2)',
      }),
    }),
  });
  return [
    message('hello', 'Hello, the first message of the connecting side (pid 4242).', {
      kind: Kind.Hello,
      version: PROTOCOL_VERSION,
      pid: CLIENT_PID,
      token: TOKEN,
    }),
    message('welcome', 'Welcome, the answer of the accepting side (pid 4100).', {
      kind: Kind.Welcome,
      version: PROTOCOL_VERSION,
      pid: OWNER_PID,
    }),
    message(
      'register',
      'Register of SampleServer/alpha, as a JS owner sends it the first time.',
      request(
        {
          kind: Kind.Register,
          moniker: 'SampleServer/alpha',
          endpoint: ENDPOINT,
          object: 1,
          methods: ['sendData', 'received'],
          metadata: { name: 'alpha', startedBy: 'target-app' },
        },
        1,
      ) as Message,
    ),
    message(
      'register-queue',
      'Register with queue: true (hot standby); unanswered until this connection becomes the owner.',
      request(
        {
          kind: Kind.Register,
          moniker: 'SampleServer/alpha',
          endpoint: ENDPOINT,
          object: 2,
          methods: ['sendData'],
          metadata: {},
          queue: true,
        },
        2,
      ) as Message,
    ),
    message(
      'register-again',
      'Register sent again to a new broker after a broker restart: the entry keeps its dates.',
      request(
        {
          kind: Kind.Register,
          moniker: 'SampleServer/alpha',
          endpoint: ENDPOINT,
          object: 1,
          methods: ['sendData', 'received'],
          metadata: { name: 'alpha', startedBy: 'target-app' },
          registeredAt: REGISTERED,
          changedAt: CHANGED,
        },
        1,
      ) as Message,
    ),
    message('revoke', 'Revoke of a moniker.', request({ kind: Kind.Revoke, moniker: 'SampleServer/alpha' }, 3)),
    message('list', 'List of the prefix SampleServer/.', request({ kind: Kind.List, prefix: 'SampleServer/' }, 4)),
    message(
      'list-in-parts',
      'List of the prefix SampleServer/ that takes a large answer in parts: ListParts, then the Reply with the last rows.',
      request({ kind: Kind.List, prefix: 'SampleServer/', parts: true }, 4),
    ),
    message(
      'list-names',
      'ListNames of the prefix SampleServer/: the monikers only.',
      request({ kind: Kind.ListNames, prefix: 'SampleServer/' }, 14),
    ),
    message('lookup', 'Lookup of one moniker.', request({ kind: Kind.Lookup, moniker: 'SampleServer/alpha' }, 5)),
    message(
      'touch',
      'Touch with new metadata.',
      request({ kind: Kind.Touch, moniker: 'SampleServer/alpha', metadata: { load: 0.25 } }, 6),
    ),
    message('watch', 'Watch of the prefix SampleServer/.', request({ kind: Kind.Watch, prefix: 'SampleServer/' }, 7)),
    message('unwatch', 'Unwatch of the watch opened by request 7.', request({ kind: Kind.Unwatch, watch: 7 }, 8)),
    message('status', 'Status.', request({ kind: Kind.Status }, 9)),
    message(
      'activate',
      'Activate: start the service a service file names for this moniker, unless someone holds it.',
      request({ kind: Kind.Activate, moniker: 'Build/daemon' }, 10),
    ),
    message('services', 'Services: the service files the broker reads.', request({ kind: Kind.Services }, 11)),
    message('table-event', 'TableEvent of watch 7: an entry registered.', {
      kind: Kind.TableEvent,
      watch: 7,
      type: 'registered',
      entry: entry('SampleServer/alpha'),
    }),
    message('lost', 'Lost: another owner replaced this connection as the holder of a moniker.', {
      kind: Kind.Lost,
      moniker: 'SampleServer/alpha',
    }),
    message(
      'call',
      'Call of sendData("hello") on object 1, as a JS caller writes it.',
      request({ kind: Kind.Call, target: 1, method: 'sendData', args: ['hello'] }, 1) as Message,
    ),
    message(
      'call-with-callback',
      'Call whose second argument is a function, exported by the caller as reference 1 (tag 21109 over [0, 1]).',
      request(
        { kind: Kind.Call, target: 1, method: 'subscribeTo', args: ['prices', reference(RefKind.Function, 1)] },
        2,
      ) as Message,
      { references: true },
    ),
    message(
      'call-one-way',
      'One-way Call (id 0): run and never answered.',
      request({ kind: Kind.Call, target: 1, method: 'sendData', args: ['fire and forget'] }, 0) as Message,
    ),
    message(
      'call-traced',
      'Call made inside an OpenTelemetry span: trace carries its W3C traceparent and tracestate, as the propagator writes them.',
      request(
        {
          kind: Kind.Call,
          target: 1,
          method: 'sendData',
          args: ['hello'],
          trace: { traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE' },
        },
        5,
      ) as Message,
    ),
    message(
      'invoke',
      'Invoke of the function reference 1 that the receiver exported, with one argument.',
      request({ kind: Kind.Invoke, ref: 1, method: '', args: [42.5] }, 3) as Message,
    ),
    message(
      'invoke-traced',
      'Invoke made inside a span (a callback called from a traced method): trace with a traceparent only.',
      request(
        { kind: Kind.Invoke, ref: 1, method: '', args: [42.5], trace: { traceparent: TRACEPARENT } },
        4,
      ) as Message,
    ),
    message('cancel', 'Cancel of call 2 (its caller timed out).', { kind: Kind.Cancel, call: 2 }),
    message('release', 'Release of reference 1, received 3 times.', { kind: Kind.Release, ref: 1, count: 3 }),
    message(
      'subscribe',
      'Subscribe to event "data" of object 1.',
      request({ kind: Kind.Subscribe, target: 1, event: 'data' }, 4) as Message,
    ),
    message('unsubscribe', 'Unsubscribe from event "data" of object 1.', {
      kind: Kind.Unsubscribe,
      target: 1,
      event: 'data',
    }),
    message('event', 'Event "data" of object 1 with two arguments.', {
      kind: Kind.Event,
      target: 1,
      event: 'data',
      args: ['tick', 3],
    }),
    message('reply', 'Reply to call 1.', { kind: Kind.Reply, id: 1, value: 'alpha got 5 characters' }),
    message('reply-entry', 'Reply to a Lookup (or Register, Touch): a WireEntry.', {
      kind: Kind.Reply,
      id: 5,
      value: entry('SampleServer/alpha'),
    }),
    message('reply-null', 'Reply to a Lookup of a moniker nobody holds.', { kind: Kind.Reply, id: 5, value: null }),
    message(
      'reply-entry-batch',
      'Reply to a List (or Watch): an EntryBatch of three entries of two owners, as the broker packs it. The owners map has text keys ("1", "2"); rows is a Uint8Array (tag 64) holding the CBOR of an array of rows (see "nested").',
      { kind: Kind.Reply, id: 4, value: entryBatch() },
      { nested: [['value', 'rows']] },
    ),
    message(
      'list-part',
      'ListPart: the first rows of List 4 asked in parts, sent before its Reply and shaped as one: its value an EntryBatch of its own (owners and rows) with part, its place (0 for the first).',
      { kind: Kind.ListPart, id: 4, value: { ...(entryBatch() as EntryBatch), part: 0 } },
      { nested: [['value', 'rows']] },
    ),
    message(
      'reply-entry-batch-last-part',
      'Reply to a List asked in parts that came in parts: the last rows, and how many ListParts came before them (parts: 1).',
      { kind: Kind.Reply, id: 4, value: { ...(entryBatch() as EntryBatch), parts: 1 } },
      { nested: [['value', 'rows']] },
    ),
    message(
      'reply-name-batch',
      'Reply to a ListNames: a NameBatch of three monikers, one not ASCII, as the broker writes it: one text string, the monikers in moniker order joined by U+0000.',
      { kind: Kind.Reply, id: 14, value: nameBatch() },
    ),
    message('reply-status', 'Reply to Status: a BrokerStatus.', {
      kind: Kind.Reply,
      id: 9,
      value: {
        pid: 4000,
        uptime: 61234,
        entries: 3,
        connections: 2,
        dir: '/run/user/1000/runtable',
        version: PROTOCOL_VERSION,
      },
    }),
    message('reply-status-waiting', 'Reply to Status: a BrokerStatus with one line of standbys (queue).', {
      kind: Kind.Reply,
      id: 9,
      value: {
        pid: 4000,
        uptime: 61234,
        entries: 3,
        connections: 4,
        dir: '/run/user/1000/runtable',
        version: PROTOCOL_VERSION,
        waiting: [{ moniker: 'SampleServer/alpha', pids: [4200, 4300] }],
      },
    }),
    message('reply-activate-null', 'Reply to an Activate of a moniker no service file names.', {
      kind: Kind.Reply,
      id: 10,
      value: null,
    }),
    message('reply-services', 'Reply to Services: one well-formed file (running) and one malformed file.', {
      kind: Kind.Reply,
      id: 11,
      value: [
        {
          file: '/home/ada/.config/runtable/services/build.json',
          monikers: ['Build/daemon'],
          command: ['/usr/bin/node', '/opt/build/daemon.js'],
          pid: 4500,
        },
        {
          file: '/home/ada/.config/runtable/services/broken.json',
          monikers: [],
          problem: 'not valid JSON: Unexpected end of JSON input',
        },
      ],
    }),
    message(
      'statistics',
      "Statistics of one moniker, sent to the owner's endpoint on a call connection.",
      request({ kind: Kind.Statistics, moniker: 'SampleServer/alpha' }, 12) as Message,
    ),
    message(
      'statistics-prefix',
      'Statistics of every object of this owner whose moniker starts with SampleServer/ (what ls --stats sends).',
      request({ kind: Kind.Statistics, prefix: 'SampleServer/' }, 13) as Message,
    ),
    message(
      'reply-statistics',
      'Reply to Statistics: one StatisticsReport. sendData ended 10 calls (8 ok between 0.05 and 1.5 ms, one REMOTE after 0.4 ms, one BAD_ARGUMENT result after 0.03 ms), received none; one call named no exposed method (NO_SUCH_METHOD, in the total only, at 0 ms). Percentiles are upper bucket edges capped at max: the 5th of 10 durations (p50) is 0.09 ms = 90 µs, in bucket floor(8 log2 90) + 1 = 52, whose upper edge 2^(52/8) µs = 90.51 µs is the p50 sent; p90 (the 9th, 0.4 ms) is 2^(70/8) µs; p99 is capped at max.',
      { kind: Kind.Reply, id: 12, value: statisticsReport() },
    ),
    message('failure-activation', 'Failure of an Activate: the command exited before registering.', {
      kind: Kind.Failure,
      id: 10,
      error: {
        code: 'ACTIVATION_FAILED',
        message:
          'the service /home/ada/.config/runtable/services/build.json exited with code 1 before registering Build/daemon; its output ends: Error: cannot open config',
      },
    }),
    message('failure', 'Failure of request 1: the moniker is taken.', {
      kind: Kind.Failure,
      id: 1,
      error: { code: 'ALREADY_REGISTERED', message: 'SampleServer/alpha is registered by pid 4100' },
    }),
    message('failure-connection', 'Failure with id 0: an empty frame arrived; the connection then closes.', {
      kind: Kind.Failure,
      id: 0,
      error: { code: 'PROTOCOL', message: 'empty frame' },
    }),
    message(
      'failure-remote-cause-chain',
      'Failure REMOTE of call 1, as a JS owner sends it when the method threw a TypeError with code E_PARSE caused by a RangeError caused by an Error with code EDQUOT, the stack not asked for: causes travel as Error values (tag 21108) without stacks.',
      { kind: Kind.Failure, id: 1, error: toErrorRecord(thrown, false) },
    ),
    message(
      'failure-remote-with-stack',
      'The same Failure when the Call asked for stacks (stack: true): the stack and the causes keep their stacks.',
      { kind: Kind.Failure, id: 1, error: toErrorRecord(thrown, true) },
    ),
    message('stream-items', 'StreamItems: three items of stream 1.', {
      kind: Kind.StreamItems,
      stream: 1,
      values: [1, 'two', { three: 3 }],
    }),
    message('stream-credit', 'StreamCredit: room for 256 more items of stream 1.', {
      kind: Kind.StreamCredit,
      stream: 1,
      credit: 256,
    }),
    message('stream-end', 'StreamEnd: stream 1 is done.', { kind: Kind.StreamEnd, stream: 1 }),
    message('stream-end-error', "StreamEnd of a stream whose iterator threw: code REMOTE, the error's name and code.", {
      kind: Kind.StreamEnd,
      stream: 1,
      error: { code: 'REMOTE', message: 'feed broke', name: 'Error', remoteCode: 'ECONNRESET' },
    }),
    message('stream-cancel', 'StreamCancel: the consumer stopped reading stream 1.', {
      kind: Kind.StreamCancel,
      stream: 1,
    }),
    message(
      'chunk',
      'One Chunk: the first 16 bytes of a transfer of 70,000 bytes carrying request 9 (illustrative; the JS sender cuts 65,536-byte chunks, see sequence-chunked-call).',
      {
        kind: Kind.Chunk,
        transfer: 1,
        offset: 0,
        total: 70000,
        request: 9,
        data: Buffer.from('b90005646b696e64181e667461726765', 'hex'),
      },
    ),
    message(
      'monitor',
      'Monitor: a monitor asks an owner for a record of each call on its objects under "SampleServer/", values included; answered by Reply {id: 3, value: true}. The id names the monitor in CallRecords and Unmonitor.',
      request({ kind: Kind.Monitor, prefix: 'SampleServer/', values: true }, 3),
    ),
    message('unmonitor', 'Unmonitor: stop monitor 3.', { kind: Kind.Unmonitor, monitor: 3 }),
    message(
      'call-records',
      'CallRecords for monitor 3: a call answered ok, a one-way call, a stream of 70 items, a callback the owner made into client 4242 (peerPid: the process called back) and a call that threw, with its values; 12 records were missed before these.',
      {
        kind: Kind.CallRecords,
        monitor: 3,
        missed: 12,
        records: [
          {
            moniker: 'SampleServer/alpha',
            method: 'sendData',
            peerPid: CLIENT_PID,
            ms: 0.25,
            outcome: 'ok',
            bytesIn: 46,
            bytesOut: 26,
            endedAt: CHANGED.getTime(),
          },
          {
            moniker: 'SampleServer/alpha',
            method: 'log',
            peerPid: CLIENT_PID,
            ms: 0.05,
            outcome: 'ok',
            bytesIn: 55,
            bytesOut: 0,
            endedAt: CHANGED.getTime(),
            oneway: true,
          },
          {
            moniker: 'SampleServer/alpha',
            method: 'numbers',
            peerPid: CLIENT_PID,
            ms: 3.5,
            outcome: 'ok',
            bytesIn: 42,
            bytesOut: 310,
            endedAt: CHANGED.getTime(),
            stream: true,
            items: 70,
          },
          {
            moniker: 'SampleServer/alpha',
            method: '',
            peerPid: CLIENT_PID,
            ms: 1,
            outcome: 'ok',
            bytesIn: 0,
            bytesOut: 0,
            endedAt: CHANGED.getTime(),
            callback: true,
          },
          {
            moniker: 'SampleServer/alpha',
            method: 'fail',
            peerPid: CLIENT_PID,
            ms: 0.5,
            outcome: 'REMOTE',
            bytesIn: 48,
            bytesOut: 67,
            endedAt: CHANGED.getTime(),
            args: "'no luck'",
            result: 'RangeError: no luck',
          },
        ],
      },
    ),
    chunkedCall(),
    streamWithCredit(),
    message(
      'reply-stream-reference',
      'Reply whose value starts stream 1 (tag 21109 over [2, 1]).',
      { kind: Kind.Reply, id: 7, value: reference(RefKind.Stream, 1) },
      { references: true },
    ),
    message(
      'reply-object-reference',
      'Reply whose value is an object the owner exported with ref(): reference 2 with its methods.',
      { kind: Kind.Reply, id: 8, value: reference(RefKind.Object, 2, ['next', 'close']) },
      { references: true },
    ),
    value('value-null-booleans', 'null, true and false.', [null, true, false]),
    value('value-undefined', 'undefined, alone and as a map value.', [undefined, { missing: undefined }]),
    value(
      'value-integers',
      'Integers as numbers: shortest major type 0 or 1 up to 4 bytes.',
      [0, 23, 24, 255, 256, 65535, 65536, 4294967295, -1, -24, -25, -4294967296],
    ),
    value(
      'value-floats',
      'Numbers that are not 32-bit integers: float64, integral ones too; -0 is written as the integer 0.',
      [1.5, -0.1, 4294967296, 2 ** 53 - 1, -4294967297, 1e300, Number.NaN, Number.POSITIVE_INFINITY, -0],
    ),
    value('value-bigint', 'BigInts: 8-byte integers whatever the value, bignums (tags 2, 3) beyond 64 bits.', [
      5n,
      -5n,
      18446744073709551615n,
      -18446744073709551616n,
      2n ** 70n,
      -(2n ** 70n),
    ]),
    value('value-text', 'Text, with characters outside ASCII.', ['', 'hello', 'grüße, 世界 🎉']),
    value('value-object', 'A plain object: a map with text keys (2-byte length form), nested.', {
      name: 'alpha',
      tags: ['a', 'b'],
      nested: { depth: 2, empty: {} },
    }),
    value('value-map', 'A Map: tag 259 over a map whose keys are of any type.', [
      new Map<unknown, unknown>([
        [1, 'one'],
        ['two', 2],
        [[1, 2], null],
      ]),
    ]),
    value('value-set', 'A Set: tag 258 over an array.', new Set([1, 'two', 3])),
    value('value-date', 'Dates: tag 1 over whole seconds (uint) or float64 seconds.', [
      new Date('2026-11-23T20:00:00.000Z'),
      new Date('2026-11-23T20:00:00.250Z'),
      new Date('1969-12-31T23:59:59.000Z'),
    ]),
    value('value-buffer', 'A Buffer: an untagged byte string.', Buffer.from('00ff10', 'hex')),
    value('value-typed-arrays', 'A Uint8Array (tag 64) and every other typed array (RFC 8746 tags, little-endian).', [
      Uint8Array.of(1, 2, 3),
      Uint8ClampedArray.of(255, 0),
      Uint16Array.of(1, 65535),
      Uint32Array.of(1, 4294967295),
      BigUint64Array.of(1n, 18446744073709551615n),
      Int8Array.of(-1, 127),
      Int16Array.of(-2, 300),
      Int32Array.of(-3, 70000),
      BigInt64Array.of(-4n, 4n),
      Float32Array.of(1.5, -0.25),
      Float64Array.of(Math.PI, -1e300),
    ]),
    value(
      'value-error',
      'An Error with a code and a cause (tag 21108); a stack of its own, the cause without one.',
      error('Error', 'not found', {
        code: 'ENOENT',
        stack: 'Error: not found\n    at open (/srv/app/files.js:1:1)',
        cause: error('Error', 'inner'),
      }),
    ),
  ];
}
