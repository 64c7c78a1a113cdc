// A Connection speaks messages over a Transport: it encodes, validates what arrives, performs the
// version handshake and matches replies to requests. It never retries anything, and when the
// transport goes it rejects every request in flight at once.

import { type ErrorCode, RuntableError } from '../errors.js';
import { FRAME_HEADER_BYTES } from '../transport/framing.js';
import { holdUntil } from '../transport/keep-alive.js';
import type { Transport } from '../transport/transport.js';
import { wholeView } from './cbor-decode.js';
import { ChunkAssembler, type ChunkInParts, chunkInParts } from './chunk-assembler.js';
import {
  decode,
  decodeHooks,
  decodeWith,
  type Encoded,
  encode,
  encodeCall,
  encodeCallOf,
  encodeReply,
  type ReferenceContext,
  type TagHooks,
} from './codec.js';
import { decodeCall, decodeReply, lastCallExact, takeReplyValue } from './envelope-decode.js';
import { asRuntableError, toRuntableError } from './error-record.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { Outbox } from './outbox.js';
import { abortError, failed, PendingRequests, type Recover, type Restack } from './pending.js';
import {
  type Call,
  type Chunk,
  type ErrorRecord,
  type Invoke,
  isOrdered,
  Kind,
  type Message,
  PROTOCOL_VERSION,
  type ReplyValues,
  type Request,
  type TraceContext,
  type Unnumbered,
} from './protocol.js';
import { tokenMatches } from './token.js';
import { toMessage } from './validate.js';

/** How long a peer may take to say Hello or Welcome. */
export const HANDSHAKE_TIMEOUT_MS = 5000;
/** A peer that complains and then hangs up within this long hung up for that reason. */
const COMPLAINT_RELEVANCE_MS = 2000;
/** Request ids wrap here; far more than can ever be in flight. */
const MAX_REQUEST_ID = 0x7fffffff;

export interface ConnectionOptions {
  /** Code for requests in flight when the connection drops (OBJECT_GONE, TABLE_UNAVAILABLE). */
  goneCode: ErrorCode;
  /** Said of the peer in messages: "owner 1234", "the broker". */
  peerName: string;
  /** Default timeout of requests, ms. */
  timeout: number;
  /** The table's token (token.ts): sent in Hello, or required in it when accepting. */
  token: string;
  /** What the connection takes in and leaves queued; default DEFAULT_LIMITS (limits.ts). */
  limits?: Limits;
  /** The largest whole message sent; default limits.maxMessageBytes (the broker sends more than it takes). */
  maxSendBytes?: number;
  /** Told, in a sentence, when the peer is dropped for not reading; default process.emitWarning. */
  report?: (line: string) => void;
}

export interface RequestOptions {
  timeout?: number;
  signal?: AbortSignal;
  /** Told the request's id just before it is sent. */
  numbered?: (id: number) => void;
  /** On timeout or abort, tell the peer with Cancel (calls, whose methods may be stopped). */
  cancellable?: boolean;
  /** Makes the error the request fails with, in a job where the awaiting caller's stack shows (pending.ts, failThrough). */
  restack?: Restack;
}

export type { Recover };

/**
 * A Call as a proxy sends it: its fields, and what a failure turns into (its retry on
 * NOT_REGISTERED). One object per call, written without a message object made from it.
 */
export interface CallRequest extends Recover {
  /** The registered object's id at the owner. */
  readonly object: number;
  readonly method: string;
  readonly args: unknown[];
  /** Asks for the method's stack with a failure (debug). */
  readonly stack: boolean;
  readonly trace: TraceContext | undefined;
}

/** The message of a CallRequest, for encode(): its fields in the order a proxy always gave them. */
function callMessage(call: CallRequest): Unnumbered<Call> {
  const message: Unnumbered<Call> = { kind: Kind.Call, target: call.object, method: call.method, args: call.args };
  if (call.stack) message.stack = true;
  if (call.trace !== undefined) message.trace = call.trace;
  return message;
}

function unsendable(error: unknown): RuntableError {
  return new RuntableError('BAD_ARGUMENT', `cannot send this request: ${(error as Error).message}`, { cause: error });
}

/** What a connection tells its user; given once, when the handshake succeeds. */
export interface ConnectionHandlers {
  /** Messages that are not replies: requests for a server, notices for a client. */
  onMessage(message: Message): void;
  /** Once, when the connection closes, with the reason. */
  onClose(reason: RuntableError): void;
  /**
   * Optional: once, when the connection closes, first of all (before its reason is made and its
   * requests are failed), for what others must be told at once: a broker's watchers of an owner.
   */
  onEnd?(): void;
}

/**
 * Makes the handlers of a connection whose handshake has just succeeded. It runs before the next
 * frame is read, so a peer that pipelines requests right after its Hello finds them in place.
 */
export type Attach = (connection: Connection) => ConnectionHandlers;

const NO_HANDLERS: ConnectionHandlers = { onMessage: () => {}, onClose: () => {} };

export class Connection {
  /** Settles, with the reason, when the connection closes; for any number of observers. */
  readonly whenClosed: Promise<RuntableError>;
  #resolveClosed: (reason: RuntableError) => void = () => {};
  peerPid = 0;
  /** Encoded bytes of the message handed to onMessage last (what an owner's monitor reports). */
  lastMessageBytes = 0;

  readonly #transport: Transport;
  readonly #options: ConnectionOptions;
  readonly #pending: PendingRequests;
  #nextId = 1;
  #closeError: RuntableError | undefined;
  /** The last connection-level Failure the peer sent: the reason if it hangs up soon after. */
  #peerComplaint: { error: RuntableError; at: number } | undefined;
  #handlers: ConnectionHandlers = NO_HANDLERS;
  /** Until the handshake settles: where its end goes (the frame it waits for, or a close). */
  #handshakeEnded: ((error: RuntableError) => void) | undefined;
  /** Until the handshake succeeds: what a frame is taken as (Hello or Welcome). */
  #handshakeFrame: ((frame: Uint8Array) => void) | undefined;
  readonly #maxMessageBytes: number;
  readonly #maxSendBytes: number;
  readonly #assembler: ChunkAssembler;
  readonly #outbox: Outbox;
  #references: ReferenceContext | undefined;
  #hooks: TagHooks = decodeHooks(undefined);

  private constructor(transport: Transport, options: ConnectionOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#pending = new PendingRequests(
      options.timeout,
      (timeout) => new RuntableError('TIMEOUT', `${options.peerName} did not answer within ${timeout} ms`),
      (id) => this.#outbox.cancel(id),
    );
    this.whenClosed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const limits = options.limits ?? DEFAULT_LIMITS;
    this.#maxMessageBytes = limits.maxMessageBytes;
    this.#maxSendBytes = options.maxSendBytes ?? this.#maxMessageBytes;
    const maxPendingBytes = limits.maxPendingBytes;
    this.#outbox = new Outbox(transport, {
      maxSendBytes: this.#maxSendBytes,
      maxPendingBytes,
      sendCancel: (id) => this.send({ kind: Kind.Cancel, call: id }),
      overflow: (pending) => {
        const message = `${options.peerName} (pid ${this.peerPid}) left ${pending} bytes unread, over the limit of ${maxPendingBytes} (maxPendingBytes); its connection was dropped`;
        if (options.report) options.report(message);
        else process.emitWarning(`runtable: ${message}`);
        this.#closeError = new RuntableError(options.goneCode, message);
        this.#transport.close(this.#closeError);
      },
    });
    this.#assembler = new ChunkAssembler(this.#maxMessageBytes, limits.transferStallMs, (transfer) =>
      this.replyError(0, new RuntableError('PROTOCOL', `transfer ${transfer} stalled; dropped`)),
    );
    transport.onFrame = (frame) => {
      if (this.#handshakeFrame) this.#handshakeFrame(frame);
      else this.#receive(frame);
    };
    // Frames read in place: the messages of every call need no view of their own.
    transport.onFrameAt = (memory, offset, length) => {
      if (this.#handshakeFrame) this.#handshakeFrame(new Uint8Array(memory, offset, length));
      else if (length > this.#maxMessageBytes || !this.#fast(wholeView(memory), offset, length)) {
        this.#general(new Uint8Array(memory, offset, length));
      }
    };
    // A large frame that came over several reads: a chunk's data goes from the reads straight
    // into its message (one copy); anything else is joined and read as any frame.
    transport.onFrameParts = (parts, length) => {
      const chunk = this.#handshakeFrame ? undefined : chunkInParts(parts, length);
      if (chunk) this.#chunk(chunk);
      else transport.onFrame(Buffer.concat(parts, length));
    };
    transport.onClose = (error) => this.#closed(error);
    transport.onStreamError = (error) => this.#fail(error);
    transport.onWritable = () => this.#outbox.pump();
  }

  /** Opens the client side: says Hello and waits for Welcome. */
  static async connect(transport: Transport, options: ConnectionOptions, attach?: Attach): Promise<Connection> {
    const connection = new Connection(transport, options);
    await connection.#handshake(
      attach,
      (message) => {
        if (message.kind === Kind.Welcome) {
          if (message.version !== PROTOCOL_VERSION) {
            throw new RuntableError(
              'PROTOCOL',
              `${options.peerName} speaks protocol version ${message.version}; this runtable speaks ${PROTOCOL_VERSION}. Upgrade the older side`,
            );
          }
          connection.peerPid = message.pid;
          return true;
        }
        if (message.kind === Kind.Failure) throw toRuntableError(message.error);
        return false;
      },
      true,
    );
    return connection;
  }

  /** Opens the server side: waits for Hello and answers Welcome, or refuses a wrong version. */
  static async accept(transport: Transport, options: ConnectionOptions, attach: Attach): Promise<Connection> {
    const connection = new Connection(transport, options);
    await connection.#handshake(
      attach,
      (message) => {
        if (message.kind !== Kind.Hello) return false;
        if (message.version !== PROTOCOL_VERSION) {
          const error = new RuntableError(
            'PROTOCOL',
            `this peer speaks protocol version ${PROTOCOL_VERSION}, you sent ${message.version}; upgrade the older side`,
          );
          connection.#fail(error);
          throw error;
        }
        if (!tokenMatches(message.token, options.token)) {
          // Says what is missing, never what the token is.
          const error = new RuntableError(
            'ACCESS_DENIED',
            "the Hello did not carry this table's token; only a process that can read the table directory may join",
          );
          connection.#fail(error);
          throw error;
        }
        connection.peerPid = message.pid;
        connection.send({ kind: Kind.Welcome, version: PROTOCOL_VERSION, pid: process.pid });
        return true;
      },
      false,
    );
    return connection;
  }

  /** Where functions and references in messages are exported and imported; calls only. */
  get references(): ReferenceContext | undefined {
    return this.#references;
  }

  set references(references: ReferenceContext | undefined) {
    this.#references = references;
    this.#hooks = decodeHooks(references);
  }

  get closed(): boolean {
    return this.#transport.closed;
  }

  /** Bytes queued for the peer and not yet written, chunks still to be cut included. */
  get pendingBytes(): number {
    return this.#outbox.pendingBytes;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Large messages being received: transfers begun and not yet whole. */
  get receiving(): number {
    return this.#assembler.inProgress;
  }

  /** Writes what is queued now, not at the end of the tick, where the transport can. */
  flush(): void {
    this.#transport.flush?.();
  }

  /** Sends a message, returning its encoded size; throws FRAME_TOO_LARGE or an encoding error synchronously. */
  send(message: Message): number {
    const bytes = encode(message, this.#references);
    this.#outbox.send(bytes, { ordered: isOrdered(message) });
    return bytes.length;
  }

  request<R extends Request>(
    message: Unnumbered<R>,
    options: RequestOptions = {},
    recover?: Recover,
  ): Promise<ReplyValues[R['kind']]> {
    const refused = this.#refused(options);
    if (refused) return refused;
    const id = this.#numbered(options);
    let bytes: Encoded | number | undefined;
    try {
      // Calls and invocations, the requests that count, are written field by field (same bytes),
      // as frames when the transport takes them (outbox.framing).
      if (message.kind === Kind.Call || message.kind === Kind.Invoke) {
        bytes = encodeCall(message as Unnumbered<Call | Invoke>, id, this.#references, this.#outbox.framing);
      }
      if (bytes === undefined) {
        // Numbered in place: callers build a fresh message per request (a copy per call shows in profiles).
        (message as Unnumbered<R> & { id: number }).id = id;
        bytes = encode(message, this.#references);
      }
    } catch (error) {
      return failed(unsendable(error), options.restack);
    }
    return this.#sent(id, bytes, options, recover) as Promise<ReplyValues[R['kind']]>;
  }

  /** The failed answer of a request made on a closed connection or with an aborted signal, if so. */
  #refused(options: RequestOptions): Promise<never> | undefined {
    if (this.#closeError) return failed(this.#closeError, options.restack);
    const signal = options.signal;
    if (signal?.aborted) return failed(abortError(signal), options.restack);
    return undefined;
  }

  /** request() of a Call, written from `call`'s fields; `call` is also its Recover. */
  call(call: CallRequest, options: RequestOptions): Promise<unknown> {
    // Trace context is a field encodeCall leaves to encode(): the message is made for it.
    if (call.trace !== undefined) return this.request<Call>(callMessage(call), options, call);
    const refused = this.#refused(options);
    if (refused) return refused;
    const id = this.#numbered(options);
    let bytes: Encoded | number | undefined;
    try {
      const references = this.#references;
      bytes = encodeCallOf(call.object, call.method, call.args, call.stack, id, references, this.#outbox.framing);
      if (bytes === undefined) bytes = encode({ ...callMessage(call), id }, references);
    } catch (error) {
      return failed(unsendable(error), options.restack);
    }
    return this.#sent(id, bytes, options, call);
  }

  /** The next request id, told to `options.numbered`. */
  #numbered(options: RequestOptions): number {
    const id = this.#nextId;
    this.#nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
    options.numbered?.(id);
    return id;
  }

  /** Sends request `id`, encoded as `bytes`, and tracks its answer. */
  #sent(id: number, bytes: Encoded | number, options: RequestOptions, recover: Recover | undefined): Promise<unknown> {
    const restack = options.restack;
    const size = typeof bytes === 'number' ? bytes - FRAME_HEADER_BYTES : bytes.length;
    if (size > this.#maxSendBytes) {
      return failed(
        new RuntableError(
          'FRAME_TOO_LARGE',
          `request of ${size} bytes is over the limit of ${this.#maxSendBytes} (maxMessageBytes)`,
        ),
        restack,
      );
    }
    const timeout = options.timeout ?? this.#options.timeout;
    const answer = this.#pending.track(id, timeout, options.signal, options.cancellable === true, recover, restack);
    this.#outbox.sendNumbered(bytes, id, undefined);
    return answer;
  }

  /** Answers a request this side received; returns the answer's encoded size. */
  reply(id: number, value: unknown): number {
    const bytes = encodeReply(id, value, this.#references, this.#outbox.framing);
    this.#outbox.sendNumbered(bytes, undefined, id);
    return typeof bytes === 'number' ? bytes - FRAME_HEADER_BYTES : bytes.length;
  }

  /** Sends rows of List `id` ahead of its Reply (ListPart, protocol.ts): encoded as a Reply is. */
  sendListPart(id: number, value: unknown): number {
    const bytes = encodeReply(id, value, this.#references, this.#outbox.framing, Kind.ListPart);
    this.#outbox.sendNumbered(bytes, undefined, undefined);
    return typeof bytes === 'number' ? bytes - FRAME_HEADER_BYTES : bytes.length;
  }

  replyError(id: number, error: RuntableError | ErrorRecord): number {
    const record = error instanceof RuntableError ? { code: error.code, message: error.message } : error;
    return this.send({ kind: Kind.Failure, id, error: record });
  }

  close(error?: RuntableError): void {
    this.#transport.close(error);
  }

  /** Tells the peer why, then drops it: for a peer whose stream or manners can't be trusted. */
  #fail(error: Error): void {
    const runtableError = asRuntableError(error, 'PROTOCOL');
    this.replyError(0, runtableError);
    this.#transport.close(runtableError, true);
  }

  #handshake(attach: Attach | undefined, accept: (message: Message) => boolean, sendHello: boolean): Promise<void> {
    // A handshake is awaited like a request (connect(), a first call to an owner): it holds the process.
    return holdUntil(this.#handshakeSteps(attach, accept, sendHello));
  }

  #handshakeSteps(
    attach: Attach | undefined,
    accept: (message: Message) => boolean,
    sendHello: boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          const error = new RuntableError('TIMEOUT', `${this.#options.peerName} did not complete the handshake`);
          this.close(error);
          reject(error);
        },
        Math.min(HANDSHAKE_TIMEOUT_MS, this.#options.timeout),
      );
      timer.unref();
      this.#handshakeEnded = (error) => {
        this.#handshakeEnded = undefined;
        clearTimeout(timer);
        reject(error);
      };
      this.#handshakeFrame = (frame) => {
        try {
          const message = toMessage(decode(frame));
          if (!accept(message)) throw new RuntableError('PROTOCOL', `expected a handshake, got kind ${message.kind}`);
        } catch (error) {
          // Rejected before the close below, whose reason would otherwise win with a vaguer one.
          const failure = asRuntableError(error, 'PROTOCOL');
          this.#handshakeEnded?.(failure);
          if (!this.closed) this.#fail(failure);
          return;
        }
        clearTimeout(timer);
        this.#handshakeEnded = undefined;
        this.#handshakeFrame = undefined;
        if (attach) this.#handlers = attach(this);
        resolve();
      };
      if (sendHello) {
        this.send({ kind: Kind.Hello, version: PROTOCOL_VERSION, pid: process.pid, token: this.#options.token });
      }
    });
  }

  /**
   * The messages of every call, read field by field (envelope-decode.ts) from `bytes` at `start`:
   * a Reply settles its request without an object, a Call or Invoke comes out valid. False for the
   * rest, and for these when written differently: they go the general way (#receive).
   */
  #fast(bytes: Uint8Array, start: number, length: number): boolean {
    try {
      const id = decodeReply(bytes, this.#hooks, start, start + length);
      if (id >= 0) {
        this.#pending.settle(id, takeReplyValue(), undefined);
        return true;
      }
      const call = decodeCall(bytes, this.#hooks, start, start + length);
      if (call === undefined) return false;
      const message = lastCallExact() ? (call as Message) : this.#checked(call);
      if (!message) return true;
      this.lastMessageBytes = length;
      this.#handlers.onMessage(message);
    } catch (error) {
      this.#undecodable(error);
    }
    return true;
  }

  #receive(frame: Uint8Array): void {
    if (frame.length <= this.#maxMessageBytes && this.#fast(frame, 0, frame.length)) return;
    this.#general(frame);
  }

  /** Any message, decoded as a whole and validated. */
  #general(frame: Uint8Array): void {
    let value: unknown;
    try {
      value = decodeWith(frame, this.#hooks);
    } catch (error) {
      this.#undecodable(error);
      return;
    }
    const message = this.#checked(value);
    if (!message) return;
    if (message.kind === Kind.Chunk) {
      this.#chunk(message);
      return;
    }
    if (frame.length > this.#maxMessageBytes) {
      // A single frame, but over this side's limit all the same.
      const error = new RuntableError(
        'FRAME_TOO_LARGE',
        `a message of ${frame.length} bytes was sent; the limit here is ${this.#maxMessageBytes} (maxMessageBytes)`,
      );
      if (message.kind === Kind.Reply) this.#pending.settle(message.id, undefined, error);
      else this.replyError('id' in message && message.kind !== Kind.Failure ? message.id : 0, error);
      return;
    }
    if (message.kind === Kind.Reply) this.#pending.settle(message.id, message.value, undefined);
    else if (message.kind === Kind.Failure) {
      const error = toRuntableError(message.error);
      if (message.id === 0) this.#peerComplaint = { error, at: Date.now() };
      else this.#pending.settle(message.id, undefined, error);
    } else {
      this.lastMessageBytes = frame.length;
      this.#handlers.onMessage(message);
    }
  }

  #chunk(chunk: Chunk | ChunkInParts): void {
    let whole: Uint8Array | undefined;
    try {
      whole = this.#assembler.add(chunk);
    } catch (error) {
      // A refused request or reply fails that call alone; any other fault is the connection's.
      if (chunk.reply !== undefined && (error as RuntableError).code === 'FRAME_TOO_LARGE') {
        this.#pending.settle(chunk.reply, undefined, error as RuntableError);
      } else {
        this.replyError(chunk.request ?? 0, error as RuntableError);
      }
      return;
    }
    if (whole) this.#receive(whole);
  }

  /** Framing is intact, so the stream can still be trusted: refuses this message alone. */
  #undecodable(error: unknown): void {
    this.replyError(0, new RuntableError('PROTOCOL', `undecodable message: ${(error as Error).message}`));
  }

  /** The decoded value as a Message, or undefined once a malformed one is refused. */
  #checked(value: unknown): Message | undefined {
    try {
      return toMessage(value);
    } catch (error) {
      const id = (value as { id?: unknown } | null)?.id;
      this.replyError(typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : 0, error as RuntableError);
      return undefined;
    }
  }

  #closed(error: Error | undefined): void {
    this.#handlers.onEnd?.();
    this.#assembler.clear();
    this.#outbox.clear();
    const complaint =
      this.#peerComplaint && Date.now() - this.#peerComplaint.at < COMPLAINT_RELEVANCE_MS
        ? this.#peerComplaint.error
        : undefined;
    const reason =
      this.#closeError ??
      complaint ??
      new RuntableError(
        this.#options.goneCode,
        `connection to ${this.#options.peerName} closed${error ? `: ${error.message}` : ''}`,
        error ? { cause: error } : undefined,
      );
    this.#closeError = reason;
    this.#pending.rejectAll(reason);
    if (this.#handshakeEnded) this.#handshakeEnded(reason);
    else this.#handlers.onClose(reason);
    this.#resolveClosed(reason);
  }
}
