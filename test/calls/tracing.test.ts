// OpenTelemetry across processes: a client and an owner, each with the SDK and an in-memory
// exporter (test/fixtures/otel.ts), print the spans they finished. The owner's SERVER spans are
// children of the caller's CLIENT spans (and a callback's the other way round), with the rpc.*
// attributes and error status; a call made outside any span carries nothing and makes no span.
// A peer writing the field by hand (PROTOCOL.md) is traced the same; a malformed one is refused.
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import type { OtelApi } from '../../src/calls/tracing.ts';
import { MAX_TRACE_CHARS } from '../../src/wire/validate.ts';
import type { SpanRecord } from '../fixtures/otel.ts';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { type FailureMsg, RawPeer } from '../raw-peer.ts';

const MONIKER = 'Traced/owner';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const UPSTREAM_SPAN = '00f067aa0ba902b7';
const SERVER = 1;
const CLIENT = 2;
const ERROR = 2;

let dir: string;
let peers: RawPeer[] = [];

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  await cleanup(dir);
});

/** The JSON after `label ` on the fixture's line. */
async function printed<T>(fixture: Fixture, label: string): Promise<T> {
  const line = await fixture.waitForLine(new RegExp(`^${label} `), 60_000);
  return JSON.parse(line.slice(label.length + 1)) as T;
}

/** The owner's spans: it prints them when told to stop. */
async function ownerSpans(owner: Fixture): Promise<SpanRecord[]> {
  owner.child.kill('SIGTERM');
  return printed<SpanRecord[]>(owner, 'spans');
}

function only(spans: SpanRecord[], name: string, kind: number): SpanRecord {
  const found = spans.filter((span) => span.name === name && span.kind === kind);
  assert.equal(
    found.length,
    1,
    `one ${kind === SERVER ? 'SERVER' : 'CLIENT'} span ${name} in ${JSON.stringify(spans)}`,
  );
  return found[0] as SpanRecord;
}

/** `child` is a span of the same trace whose parent is `parent`. */
function childOf(child: SpanRecord, parent: { spanId: string; traceId?: string }): void {
  assert.equal(child.traceId, parent.traceId ?? TRACE_ID, `${child.name}: same trace`);
  assert.equal(child.parentSpanId, parent.spanId, `${child.name}: parent`);
}

const rpc = (method: string) => ({ 'rpc.system': 'runtable', 'rpc.service': MONIKER, 'rpc.method': method });

interface Result {
  work: string;
  sum: number;
  failed: string;
  missing: string;
  relayed: { own: string | null; back: { n: number; span: string | null } };
  active: string | null;
  outside: string | null;
}

test('calls inside a span: the owner serves each in a SERVER span, child of the caller’s CLIENT span', async () => {
  const owner = spawnFixture('traced-owner', [MONIKER], dir);
  await owner.waitForLine(/^ready/);
  const client = spawnFixture('traced-client', [MONIKER, `00-${TRACE_ID}-${UPSTREAM_SPAN}-01`], dir);
  const result = await printed<Result>(client, 'result');
  const callerSpans = await printed<SpanRecord[]>(client, 'spans');
  assert.equal(await client.exited, 0);
  const served = await ownerSpans(owner);

  assert.equal(result.sum, 5);
  assert.equal(result.failed, 'REMOTE');
  assert.equal(result.missing, 'NO_SUCH_METHOD');
  const work = only(callerSpans, 'work', 0);
  childOf(work, { spanId: UPSTREAM_SPAN });

  // add: the pair of spans, linked across the processes, with the tracestate carried along.
  const addCalls = callerSpans.filter((span) => span.name === `${MONIKER}/add` && span.kind === CLIENT);
  const adds = served.filter((span) => span.name === `${MONIKER}/add` && span.kind === SERVER);
  assert.equal(addCalls.length, 2, 'the call and the one-way call');
  assert.equal(adds.length, 2);
  const [addCall, onewayCall] = addCalls as [SpanRecord, SpanRecord];
  for (const span of addCalls) childOf(span, work);
  assert.deepEqual(addCall.attributes, rpc('add'));
  assert.deepEqual(onewayCall.attributes, { ...rpc('add'), 'rpc.runtable.oneway': true });
  const add = adds.find((span) => span.parentSpanId === addCall.spanId) as SpanRecord;
  childOf(add, addCall);
  assert.deepEqual(add.attributes, rpc('add'));
  assert.equal(add.status.code, 0);
  assert.equal(add.traceState, 'rt=1', 'the tracestate travels with the traceparent');
  const onewayServed = adds.find((span) => span.parentSpanId === onewayCall.spanId) as SpanRecord;
  childOf(onewayServed, onewayCall);
  assert.deepEqual(onewayServed.attributes, { ...rpc('add'), 'rpc.runtable.oneway': true });

  // A method that throws: error status on both sides, with the code and the message.
  const failCall = only(callerSpans, `${MONIKER}/fail`, CLIENT);
  const fail = only(served, `${MONIKER}/fail`, SERVER);
  childOf(fail, failCall);
  for (const span of [failCall, fail]) {
    assert.deepEqual(span.attributes, { ...rpc('fail'), 'error.type': 'REMOTE' }, span.name);
    assert.equal(span.status.code, ERROR);
    assert.match(span.status.message ?? '', /no luck/);
  }
  // A method the object does not have: refused at the owner, and the owner's span says so.
  const missing = only(served, `${MONIKER}/missing`, SERVER);
  childOf(missing, only(callerSpans, `${MONIKER}/missing`, CLIENT));
  assert.equal(missing.attributes['error.type'], 'NO_SUCH_METHOD');
  assert.equal(missing.status.code, ERROR);

  // The method runs in its span; the callback it invokes is traced back into the caller.
  const active = only(served, `${MONIKER}/active`, SERVER);
  assert.equal(result.active, active.spanId, 'the method runs with its SERVER span active');
  const relay = only(served, `${MONIKER}/relay`, SERVER);
  childOf(relay, only(callerSpans, `${MONIKER}/relay`, CLIENT));
  assert.equal(result.relayed.own, relay.spanId);
  const invoke = only(served, 'callback', CLIENT);
  childOf(invoke, relay);
  assert.deepEqual(invoke.attributes, { 'rpc.system': 'runtable', 'rpc.runtable.reference': true });
  const callback = only(callerSpans, 'callback', SERVER);
  childOf(callback, invoke);
  assert.deepEqual(result.relayed.back, { n: 21, span: callback.spanId });

  // Outside any span: no CLIENT span, no field, so no SERVER span and no active span at the owner.
  assert.equal(result.outside, null);
  assert.equal(callerSpans.filter((span) => span.name === `${MONIKER}/active`).length, 1);
  assert.equal(served.length, 7, served.map((span) => span.name).join(', '));
  assert.equal(callerSpans.length, 8, callerSpans.map((span) => span.name).join(', '));
});

/** The endpoint and object id of `moniker`, from the broker. */
async function locate(moniker: string): Promise<{ endpoint: string; object: number }> {
  const broker = await RawPeer.handshaken(path.join(dir, 'broker.sock'));
  peers.push(broker);
  const reply = await broker.request({ kind: 13, id: 1, moniker });
  return reply.value as { endpoint: string; object: number };
}

test('a peer that writes the trace field by hand is traced; a malformed field is refused with PROTOCOL', async () => {
  const owner = spawnFixture('traced-owner', [MONIKER], dir);
  await owner.waitForLine(/^ready/);
  const { endpoint, object } = await locate(MONIKER);
  const peer = await RawPeer.handshaken(endpoint);
  peers.push(peer);
  const traceparent = `00-${TRACE_ID}-${UPSTREAM_SPAN}-01`;
  const call = (id: number, method: string, trace: unknown) => ({
    kind: 30,
    id,
    target: object,
    method,
    args: [],
    trace,
  });
  const answered = await peer.request(call(1, 'active', { traceparent }));
  assert.equal(answered.kind, 40);
  assert.match(String(answered.value), /^[0-9a-f]{16}$/, 'the method ran in a span');
  // Not a valid traceparent: the W3C rule, a new trace, rather than a refused call.
  assert.equal((await peer.request(call(2, 'add', { traceparent: 'nonsense' }))).kind, 40);
  for (const [id, trace] of [
    [3, 'traceparent'],
    [4, { traceparent: 7 }],
    [5, { traceparent, tracestate: 'x'.repeat(MAX_TRACE_CHARS) }],
    [6, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']))],
  ] as const) {
    const failure = (await peer.request(call(id, 'active', trace))) as unknown as FailureMsg;
    assert.equal(failure.kind, 41, JSON.stringify(trace));
    assert.equal(failure.error.code, 'PROTOCOL');
    assert.match(failure.error.message, /trace must be a map/);
  }
  const served = await ownerSpans(owner);
  assert.equal(served.length, 2, JSON.stringify(served));
  const active = only(served, `${MONIKER}/active`, SERVER);
  childOf(active, { spanId: UPSTREAM_SPAN });
  assert.equal(answered.value, active.spanId);
  const fresh = only(served, `${MONIKER}/add`, SERVER);
  assert.equal(fresh.parentSpanId, undefined, 'a root span of a new trace');
  assert.notEqual(fresh.traceId, TRACE_ID);
});

test('an owner without a tracer provider answers a traced call as any other', async () => {
  // test/fixtures/owner.ts loads @opentelemetry/api (installed here) but sets up no SDK.
  const owner = spawnFixture('owner', [MONIKER], dir);
  await owner.waitForLine(/^ready/);
  const { endpoint, object } = await locate(MONIKER);
  const peer = await RawPeer.handshaken(endpoint);
  peers.push(peer);
  const reply = await peer.request({
    kind: 30,
    id: 1,
    target: object,
    method: 'add',
    args: [2, 3],
    trace: { traceparent: `00-${TRACE_ID}-${UPSTREAM_SPAN}-01`, tracestate: 'rt=1' },
  });
  assert.deepEqual([reply.kind, reply.value], [40, 5]);
});

test('a process that has not set OpenTelemetry up does not load it; its next connect() after that does', async () => {
  const owner = spawnFixture('traced-owner', [MONIKER], dir);
  await owner.waitForLine(/^ready/);
  const late = spawnFixture('otel-late', [MONIKER], dir);
  assert.equal(await late.waitForLine(/^first /), 'first false');
  assert.equal(await late.waitForLine(/^second /), 'second true true', 'loaded, and the call was traced');
  assert.equal(await late.exited, 0);
});

test('the real @opentelemetry/api has every member tracing.ts uses', async () => {
  // The assignment is the check (npm run typecheck); the values are checked here.
  const api: OtelApi = await import('@opentelemetry/api');
  assert.deepEqual([api.SpanKind.SERVER, api.SpanKind.CLIENT, api.SpanStatusCode.ERROR], [SERVER, CLIENT, ERROR]);
  for (const fn of [api.context.with, api.trace.getSpan, api.trace.setSpan, api.propagation.inject]) {
    assert.equal(typeof fn, 'function');
  }
});
