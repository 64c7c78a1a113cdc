// OpenTelemetry for calls, when the program uses it: a call made inside an active span gets a
// CLIENT span and carries its W3C trace context (the `trace` field of Call and Invoke), and the
// method runs at the owner in a SERVER span, child of it. @opentelemetry/api is an optional peer
// dependency, loaded when a table connects in a process that has set OpenTelemetry up: otherwise,
// or with no span active, a call pays one test and carries nothing. Never a static import of it.

import type { TraceContext } from '../wire/protocol.js';
import { traceContextFits } from '../wire/validate.js';
import type { Watched } from './diagnostics.js';

/** The API's context, immutable: only passed along here. */
interface Context {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): Context;
  deleteValue(key: symbol): Context;
}

/** What is used of a span (a structural subset of @opentelemetry/api's Span). */
interface Span {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/**
 * The part of @opentelemetry/api this file uses, written out so that the package is needed only
 * at run time; test/calls/tracing.test.ts checks that the real module fits it.
 */
export interface OtelApi {
  ROOT_CONTEXT: Context;
  SpanKind: { SERVER: number; CLIENT: number };
  SpanStatusCode: { ERROR: number };
  context: {
    active(): Context;
    with<A extends unknown[], R>(context: Context, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R;
  };
  trace: {
    getSpan(context: Context): unknown;
    setSpan(context: Context, span: Span): Context;
    getTracer(name: string): {
      startSpan(
        name: string,
        options: { kind: number; attributes: Record<string, string | boolean> },
        context: Context,
      ): Span;
    };
  };
  propagation: {
    inject(context: Context, carrier: TraceContext): void;
    extract(context: Context, carrier: TraceContext): Context;
  };
}

/** A variable, not a literal: bundlers inline only literal import() specifiers (see naming/etcd/load.ts). */
const OTEL_API = '@opentelemetry/api';

/**
 * Where @opentelemetry/api 1.x keeps what a program registered (tracer provider, context manager,
 * propagator), one object shared by every copy of the package in the process: there once
 * OpenTelemetry is set up, and before that no span can be active.
 */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** The API once loaded; undefined while not (or never: not installed). */
let api: OtelApi | undefined;
let tracer: ReturnType<OtelApi['trace']['getTracer']> | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads @opentelemetry/api if the program has set OpenTelemetry up (else it looks again at the
 * next connect()); once per process, and never fails.
 */
export function loadTracing(): Promise<void> {
  if (loading) return loading;
  // A program without OpenTelemetry never pays for loading the package (tens of ms) it has installed.
  if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] === undefined) return Promise.resolve();
  loading = import(OTEL_API).then(
    (module: OtelApi & { default?: OtelApi }) => useApi(module.trace ? module : (module.default as OtelApi)),
    () => {
      // Not where runtable can load it from (a bundle that inlined its own copy): calls go untraced.
    },
  );
  return loading;
}

/** Uses this API from now on. */
function useApi(loaded: OtelApi): void {
  // A plain object of the parts used: a module namespace is slower to read on every call.
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, propagation } = loaded;
  api = { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, propagation };
  // A proxy tracer: it follows a tracer provider registered later, when the SDK starts after connect().
  tracer = loaded.trace.getTracer('runtable');
}

/** True when the caller runs inside a span: the one test a call pays for tracing. */
export function tracing(): boolean {
  if (api === undefined) return false;
  // The root context (no SDK, or no context entered) holds no span: no need to look.
  const active = api.context.active();
  return active !== api.ROOT_CONTEXT && api.trace.getSpan(active) !== undefined;
}

/** True when an incoming message with a trace field can be traced here. */
export function canTrace(): boolean {
  return api !== undefined;
}

/** A span of a call being made or served, ended with it. */
export interface CallSpan {
  readonly span: Span;
  /** At the owner: the context the method runs in (the server span's). */
  readonly context: Context;
}

/** The span's name and attributes, per OpenTelemetry's RPC semantic conventions. */
function describe(watched: Watched): { name: string; attributes: Record<string, string | boolean> } {
  const { moniker, method, reference, oneway } = watched.event;
  const attributes: Record<string, string | boolean> = { 'rpc.system': 'runtable' };
  if (moniker !== undefined) attributes['rpc.service'] = moniker;
  // A function passed by reference has no method name: its span is a "callback".
  if (method !== '') attributes['rpc.method'] = method;
  if (reference) attributes['rpc.runtable.reference'] = true;
  if (oneway) attributes['rpc.runtable.oneway'] = true;
  // Where the moniker is not known (a reference; a call to an object that is not registered), the method alone.
  const name =
    moniker !== undefined
      ? `${moniker}/${method}`
      : reference && method !== ''
        ? `reference/${method}`
        : method || 'callback';
  return { name, attributes };
}

/**
 * Starts the CLIENT span of a call made inside an active span, as a child of it, and returns the
 * trace context to send with the call: undefined when no span is active or the propagator wrote
 * nothing that may travel (then the call carries no field).
 */
export function clientSpan(watched: Watched): TraceContext | undefined {
  if (api === undefined || tracer === undefined) return undefined;
  const active = api.context.active();
  if (api.trace.getSpan(active) === undefined) return undefined;
  const { name, attributes } = describe(watched);
  const span = tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes }, active);
  const context = api.trace.setSpan(active, span);
  watched.span = { span, context };
  const carrier: TraceContext = {};
  api.propagation.inject(context, carrier);
  return Object.keys(carrier).length > 0 && traceContextFits(carrier) ? carrier : undefined;
}

/** Starts the SERVER span of a call that came with trace context, as a child of the caller's span. */
export function serverSpan(watched: Watched, carrier: TraceContext): void {
  if (api === undefined || tracer === undefined) return;
  // From the root, not from whatever context the socket happened to be made in.
  const parent = api.propagation.extract(api.ROOT_CONTEXT, carrier);
  const { name, attributes } = describe(watched);
  const span = tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes }, parent);
  watched.span = { span, context: api.trace.setSpan(parent, span) };
}

/** Runs `fn` with the server span's context active, so that what the method calls is its child. */
export function inSpan<R>(call: CallSpan, fn: () => R): R {
  return (api as OtelApi).context.with(call.context, fn);
}

/** Ends a call's span: error status with the code (error.type) and message on failure. */
export function endSpan(call: CallSpan, outcome: string, message: string | undefined): void {
  if (outcome !== 'ok') {
    call.span.setAttribute('error.type', outcome);
    call.span.setStatus({ code: (api as OtelApi).SpanStatusCode.ERROR, message: message ?? outcome });
  }
  call.span.end();
}
