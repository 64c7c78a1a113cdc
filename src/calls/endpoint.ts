// An owner's endpoint: the socket on which its registered objects take calls. One per Table,
// opened on first register. It invokes only exposed methods, answers every call exactly once,
// and never lets a throwing method or a bad message harm other calls.

import { type ErrorCode, RuntableError } from '../errors.js';
import { endpointSocketPath } from '../transport/paths.js';
import type { Listener, Transport } from '../transport/transport.js';
import { listenUnix } from '../transport/unix.js';
import { Connection } from '../wire/connection.js';
import { type Call, type ErrorRecord, Kind, type Message } from '../wire/protocol.js';

/** The largest frame an endpoint accepts. */
export const MAX_CALL_FRAME_BYTES = 256 * 1024 * 1024;
/** Calls one connection may have running at once; more are refused until some finish. */
export const MAX_CALLS_IN_FLIGHT = 65_536;

interface Exposed {
  target: object;
  methods: ReadonlySet<string>;
}

export interface EndpointOptions {
  dir: string;
  /** Include remote stacks in REMOTE failures even when the caller did not ask. */
  debug: boolean;
}

export class Endpoint {
  readonly #listener: Listener;
  readonly #objects = new Map<number, Exposed>();
  readonly #connections = new Set<Connection>();
  readonly #debug: boolean;
  #nextObject = 1;

  private constructor(listener: Listener, debug: boolean) {
    this.#listener = listener;
    this.#debug = debug;
  }

  static async open(options: EndpointOptions): Promise<Endpoint> {
    // Connections that arrive before the constructor returns wait in `early`.
    let accept: (transport: Transport) => void = (transport) => early.push(transport);
    const early: Transport[] = [];
    const address = endpointSocketPath(options.dir);
    const listener = await listenUnix(address, (transport) => accept(transport), {
      maxFrameBytes: MAX_CALL_FRAME_BYTES,
    });
    const endpoint = new Endpoint(listener, options.debug);
    accept = (transport) => endpoint.#accept(transport);
    for (const transport of early) accept(transport);
    return endpoint;
  }

  get address(): string {
    return this.#listener.address;
  }

  /** Starts serving `target`; returns its object id, never reused on this endpoint. */
  add(target: object, methods: readonly string[]): number {
    const id = this.#nextObject++;
    this.#objects.set(id, { target, methods: new Set(methods) });
    return id;
  }

  remove(id: number): void {
    this.#objects.delete(id);
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) connection.close();
    await this.#listener.close();
  }

  #accept(transport: Transport): void {
    Connection.accept(transport, { goneCode: 'OBJECT_GONE', peerName: 'client', timeout: 30_000 }).then(
      (connection) => {
        this.#connections.add(connection);
        let running = 0;
        connection.onClose = () => this.#connections.delete(connection);
        connection.onMessage = (message: Message) => {
          if (message.kind !== Kind.Call) {
            connection.replyError(
              'id' in message ? message.id : 0,
              new RuntableError('PROTOCOL', `an endpoint does not take messages of kind ${message.kind}`),
            );
            return;
          }
          if (running >= MAX_CALLS_IN_FLIGHT) {
            connection.replyError(
              message.id,
              new RuntableError('PROTOCOL', `more than ${MAX_CALLS_IN_FLIGHT} calls in flight on one connection`),
            );
            return;
          }
          running++;
          this.#call(connection, message, () => running--);
        };
      },
      () => {},
    );
  }

  #call(connection: Connection, call: Call, done: () => void): void {
    const refusal = this.#refuse(call);
    if (refusal) {
      done();
      if (call.id !== 0) connection.replyError(call.id, refusal);
      return;
    }
    const exposed = this.#objects.get(call.target) as Exposed;
    let result: unknown;
    try {
      const method = (exposed.target as Record<string, (...args: unknown[]) => unknown>)[call.method];
      result = Reflect.apply(method as (...args: unknown[]) => unknown, exposed.target, call.args);
    } catch (error) {
      done();
      this.#answerThrown(connection, call, error);
      return;
    }
    if (!isThenable(result)) {
      done();
      this.#answer(connection, call, result);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        done();
        this.#answer(connection, call, value);
      },
      (error) => {
        done();
        this.#answerThrown(connection, call, error);
      },
    );
  }

  /** Why this call may not run, if it may not. */
  #refuse(call: Call): RuntableError | undefined {
    const exposed = this.#objects.get(call.target);
    if (!exposed) {
      // The caller's entry is stale and the method never ran, so it may look the moniker up again.
      return new RuntableError('NOT_REGISTERED', `object ${call.target} is no longer registered at pid ${process.pid}`);
    }
    if (!exposed.methods.has(call.method)) {
      return new RuntableError('NO_SUCH_METHOD', `no method "${call.method}" is exposed by this object`);
    }
    if (typeof (exposed.target as Record<string, unknown>)[call.method] !== 'function') {
      return new RuntableError('NO_SUCH_METHOD', `"${call.method}" is no longer a function on this object`);
    }
    return undefined;
  }

  #answer(connection: Connection, call: Call, value: unknown): void {
    if (call.id === 0) return;
    try {
      connection.reply(call.id, value);
    } catch (error) {
      // The value could not be encoded (a symbol, say).
      connection.replyError(
        call.id,
        new RuntableError('BAD_ARGUMENT', `the result of ${call.method} cannot be sent: ${(error as Error).message}`),
      );
    }
  }

  /** An error thrown by the method itself travels as REMOTE, whatever its class. */
  #answerThrown(connection: Connection, call: Call, error: unknown): void {
    if (call.id === 0) {
      process.emitWarning(`runtable: one-way call ${call.method} failed: ${(error as Error)?.message ?? error}`);
      return;
    }
    connection.replyError(call.id, remoteRecord(error, call.stack === true || this.#debug));
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function')
  );
}

/** An error thrown by user code, as it leaves the owner. */
function remoteRecord(error: unknown, withStack: boolean): ErrorRecord {
  const thrown = error instanceof Error ? error : new Error(String(error));
  const record: ErrorRecord = { code: 'REMOTE' satisfies ErrorCode, message: thrown.message, name: thrown.name };
  const code = (thrown as Error & { code?: unknown }).code;
  if (code !== undefined) record.remoteCode = code;
  if (withStack && thrown.stack) record.stack = thrown.stack;
  if (thrown.cause !== undefined) record.cause = withStack ? thrown.cause : withoutStacks(thrown.cause, 8);
  return record;
}

/** Stack traces stay home unless asked for: they show paths and code of the owner. */
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
