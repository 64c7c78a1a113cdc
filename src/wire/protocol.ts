// Every message that crosses a runtable socket, broker or owner endpoint, as one discriminated
// union. Other files speak in these types; docs/PROTOCOL.md describes the same shapes for other
// languages. This file must stay free of Node imports: the viewer page shares it.

/**
 * Bumped on any change a peer of the previous version would misread (2: Hello carries the
 * table's token; List and Watch answer with an EntryBatch).
 */
export const PROTOCOL_VERSION = 2;

export const Kind = {
  Hello: 1,
  Welcome: 2,
  Register: 10,
  Revoke: 11,
  List: 12,
  Lookup: 13,
  Touch: 14,
  Watch: 15,
  Unwatch: 16,
  Status: 17,
  Activate: 18,
  Services: 19,
  TableEvent: 20,
  Lost: 21,
  ListNames: 22,
  ListPart: 23,
  Call: 30,
  Invoke: 31,
  Cancel: 32,
  Release: 33,
  Subscribe: 34,
  Unsubscribe: 35,
  Event: 36,
  Reply: 40,
  Failure: 41,
  StreamItems: 50,
  StreamCredit: 51,
  StreamEnd: 52,
  StreamCancel: 53,
  Chunk: 60,
  Monitor: 70,
  Unmonitor: 71,
  CallRecords: 72,
  Statistics: 75,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** An error as it travels: a stable code plus what a person needs to act on it. */
export interface ErrorRecord {
  /** One of the RuntableError codes. */
  code: string;
  /** What happened, for a person. */
  message: string;
  /** With code REMOTE: the `name` of the error the remote method threw. */
  name?: string;
  /** With code REMOTE: the `code` property of the error the remote method threw, if any. */
  remoteCode?: unknown;
  /** With code REMOTE: the remote stack, only when asked for or in debug mode. */
  stack?: string;
  /** With code REMOTE: the thrown error's `cause`, as a value (see the codec's Error tag). */
  cause?: unknown;
}

/** A table entry as the broker holds and sends it. */
export interface WireEntry {
  /** The name the object is registered under. */
  moniker: string;
  /** Process id of the owner. */
  pid: number;
  /** Socket path of the owner's endpoint, where calls go. */
  endpoint: string;
  /** The object's id on that endpoint; never reused within one endpoint. */
  object: number;
  /** Method names the object exposes. */
  methods: string[];
  /** Small JSON-like data the owner attached. */
  metadata: Record<string, unknown>;
  /** When the moniker was first registered by this owner (kept across broker restarts). */
  registeredAt: Date;
  /** Last registration or touch. */
  changedAt: Date;
}

/**
 * Many entries at once: the answer to List and the snapshot that opens a Watch. What entries
 * share (owner pid, endpoint, method lists) travels once per owner, and the rows travel as one
 * byte string the broker splices together from each entry's encoding, kept since it registered.
 * 10,000 entries take a quarter of their one-by-one size and a fraction of the time.
 */
export interface EntryBatch {
  /** The owners the rows refer to, by the broker's number for each. */
  owners: Record<number, BatchOwner>;
  /** The encoding (CBOR) of one array of EntryRow: every entry, in moniker order. */
  rows: Uint8Array;
  /**
   * Only in the Reply to a List asked `parts`: how many ListPart messages came before it, whose
   * rows go before these.
   */
  parts?: number;
  /** Only in a ListPart: 0 for the first part of its List, then 1, 2, ...: the order of the rows. */
  part?: number;
}

/** One owner endpoint of an EntryBatch. */
export type BatchOwner = [pid: number, endpoint: string, methodLists: string[][]];

/** One entry of an EntryBatch; `metadata` is left out when empty. */
export type EntryRow = [
  moniker: string,
  /** The key of its owner in the batch's `owners`. */
  owner: number,
  object: number,
  /** Index into its owner's `methodLists`. */
  methodList: number,
  /** Milliseconds since the epoch. */
  registeredAt: number,
  changedAt: number,
  metadata?: Record<string, unknown>,
];

/**
 * The answer to ListNames: the monikers under a prefix and nothing else, the like of D-Bus's
 * ListNames. They travel as one text, which both sides write and read with native code: no
 * entry is built, no name costs more than its string.
 */
export interface NameBatch {
  /** Every moniker under the prefix, in moniker order, joined by U+0000 (never in a moniker); '' for none. */
  names: string;
}

export type TableEventType = 'registered' | 'revoked' | 'changed';

/** What the broker reports about itself. */
/** The broker's own figures, as `table.status()` and `runtable broker status` give them. */
export interface BrokerStatus {
  /** The broker's process id; 0 for a table on etcd, which has no broker. */
  pid: number;
  /** Milliseconds since the broker started (on etcd: since this process connected). */
  uptime: number;
  /** Entries in the table. */
  entries: number;
  /** Control connections open to the broker, the asking one included (on etcd: this process's watches). */
  connections: number;
  /** The table directory (the etcd address for a table on etcd). */
  dir: string;
  /** The wire protocol version the broker speaks. */
  version: number;
  /** Monikers with claims waiting in line (queue), each with the waiting pids, next first. */
  waiting?: WaitingLine[];
}

/** One moniker's line of would-be owners, as BrokerStatus reports it. */
export interface WaitingLine {
  moniker: string;
  /** Pids of the processes waiting, the next owner first. */
  pids: number[];
}

/** A service file as the broker sees it: the answer to Services. */
export interface ServiceInfo {
  /** The file's absolute path. */
  file: string;
  /** The monikers it names (empty when the file cannot be read as a service file). */
  monikers: string[];
  /** The command it runs, when the file is well formed. */
  command?: string[];
  /** Why it will never run: malformed, or unsafe (another user's, or writable by others). */
  problem?: string;
  /** Pid of the process last started from it, while that process is alive. */
  pid?: number;
}

/** One method's call figures (or an object's totals), as its owner counted them. */
export interface CallFigures {
  /** Calls that ended (one-way calls included). */
  calls: number;
  /** Of those, how many ended with an error: calls minus outcomes.ok. */
  errors: number;
  /** Calls by outcome: 'ok' or an error code (REMOTE: the method threw); codes never seen left out. */
  outcomes: Record<string, number>;
  /** Latency percentiles in ms, from the owner's histogram (PROTOCOL.md 6.x); 0 with no calls. */
  p50: number;
  p90: number;
  p99: number;
  /** The longest call in ms, exactly. */
  max: number;
}

/** One registered object's statistics: the answer to Statistics is an array of these. */
export interface StatisticsReport {
  moniker: string;
  /** The object's id on the endpoint, as in its WireEntry: tells a holder from a standby in line. */
  object: number;
  /** When the owner began counting: when it registered the object. */
  since: Date;
  /** Every exposed method, by name, called or not. */
  methods: Record<string, CallFigures>;
  /** Every call to the object, those naming no exposed method (NO_SUCH_METHOD) included. */
  total: CallFigures;
}

// --- Handshake: the first message in each direction on every connection ---

export interface Hello {
  kind: typeof Kind.Hello;
  /** The protocol version the connecting side speaks. */
  version: number;
  /** The connecting process's pid. */
  pid: number;
  /**
   * The table's token: the text of the table directory's `token` file (64 hex digits). A Hello
   * without the right one is refused with ACCESS_DENIED; optional on the wire only so that a
   * peer of version 1 hears about its version first.
   */
  token?: string;
}

export interface Welcome {
  kind: typeof Kind.Welcome;
  /** The protocol version the accepting side speaks (equal to Hello's, or the connection fails). */
  version: number;
  /** The accepting process's pid. */
  pid: number;
}

// --- Naming requests, client to broker; each is answered by Reply or Failure with its id ---

export interface Register {
  kind: typeof Kind.Register;
  /** Request id, echoed in the answer. */
  id: number;
  moniker: string;
  /** The owner's endpoint socket path. */
  endpoint: string;
  /** The object's id on that endpoint. */
  object: number;
  methods: string[];
  metadata: Record<string, unknown>;
  /** Take the moniker from a live owner, which is told with Lost. */
  replace?: boolean;
  /**
   * Wait in line if the moniker is taken: the Reply comes only when this connection becomes the
   * owner (hot standby), in the order the requests arrived. Revoke of the moniker leaves the line.
   */
  queue?: boolean;
  /** Set when re-registering after a broker restart, so the entry keeps its identity. */
  registeredAt?: Date;
  /** Set with registeredAt. */
  changedAt?: Date;
}

export interface Revoke {
  kind: typeof Kind.Revoke;
  id: number;
  moniker: string;
}

export interface List {
  kind: typeof Kind.List;
  id: number;
  /** Plain prefix; '' lists everything. */
  prefix: string;
  /**
   * A large answer may come in parts: ListParts, then the Reply with the last rows. Brokers
   * before it ignore the field and answer in one Reply.
   */
  parts?: boolean;
}

/**
 * Some rows of a List asked `parts`, sent before its Reply as soon as they are written, so that
 * the client reads them while the broker writes the next.
 */
export interface ListPart {
  kind: typeof Kind.ListPart;
  /** The id of the List request these rows answer (a ListPart is shaped as a Reply). */
  id: number;
  /** Its rows, each part a batch of its own (its own owners), with `part`, its place. */
  value: EntryBatch & { part: number };
}

/** The monikers under a prefix, names only: answered with a NameBatch. Brokers before it refuse kind 22. */
export interface ListNames {
  kind: typeof Kind.ListNames;
  id: number;
  /** Plain prefix; '' lists everything. */
  prefix: string;
}

export interface Lookup {
  kind: typeof Kind.Lookup;
  id: number;
  moniker: string;
}

export interface Touch {
  kind: typeof Kind.Touch;
  id: number;
  moniker: string;
  /** Replaces the entry's metadata when present. */
  metadata?: Record<string, unknown>;
}

export interface Watch {
  kind: typeof Kind.Watch;
  /** Request id; it also names the watch in later TableEvent and Unwatch messages. */
  id: number;
  prefix: string;
}

export interface Unwatch {
  kind: typeof Kind.Unwatch;
  id: number;
  /** The id of the Watch request to end. */
  watch: number;
}

export interface Status {
  kind: typeof Kind.Status;
  id: number;
}

/**
 * Resolve a moniker, starting the command of the service file that names it if nobody holds it
 * (activation on demand). Answered with the WireEntry once it is registered, null when it is not
 * registered and no service file names it, or Failure ACTIVATION_FAILED. Never cancelled: the
 * broker bounds the wait by the service file's timeout.
 */
export interface Activate {
  kind: typeof Kind.Activate;
  id: number;
  moniker: string;
}

/** The service files the broker reads, with their problems and running processes: ServiceInfo[]. */
export interface Services {
  kind: typeof Kind.Services;
  id: number;
}

// --- Naming notices, broker to client, unasked ---

export interface TableEvent {
  kind: typeof Kind.TableEvent;
  /** The id of the Watch request this event belongs to. */
  watch: number;
  type: TableEventType;
  entry: WireEntry;
}

export interface Lost {
  kind: typeof Kind.Lost;
  /** A moniker this connection owned and no longer does (another owner replaced it). */
  moniker: string;
}

// --- Calls, client to owner endpoint ---

/**
 * W3C trace context of the caller's span, as its OpenTelemetry propagator writes it: header name
 * to value, `traceparent` and, if any, `tracestate`. A receiver without OpenTelemetry ignores it.
 */
export type TraceContext = Record<string, string>;

export interface Call {
  kind: typeof Kind.Call;
  /** Request id, unique among this connection's calls in flight. */
  id: number;
  /** Object id on the endpoint, from the entry. */
  target: number;
  method: string;
  args: unknown[];
  /** Ask for the remote stack in a Failure. */
  stack?: boolean;
  /** The caller's trace context, when it called inside an OpenTelemetry span. */
  trace?: TraceContext;
}

export interface Invoke {
  kind: typeof Kind.Invoke;
  /** Request id, as for Call; 0 for a one-way invocation. */
  id: number;
  /** A reference the receiver exported on this connection (a callback or a ref() object). */
  ref: number;
  /** Method of a ref() object; '' calls a function reference itself. */
  method: string;
  args: unknown[];
  stack?: boolean;
  /** As for Call: the invoker's trace context. */
  trace?: TraceContext;
}

/** The caller gave up on a Call or Invoke (timeout or abort): the callee's signal fires. */
export interface Cancel {
  kind: typeof Kind.Cancel;
  /** The id of the Call or Invoke given up. */
  call: number;
}

/** The receiver of a reference no longer holds it (garbage collected). */
export interface Release {
  kind: typeof Kind.Release;
  ref: number;
  /** How many times it had received the reference; the exporter frees it when all are released. */
  count: number;
}

/** Client to owner: send me `event` of object `target`. Answered by Reply(true) or Failure. */
export interface Subscribe {
  kind: typeof Kind.Subscribe;
  id: number;
  target: number;
  event: string;
}

/** Client to owner: stop sending `event` of `target`. Unanswered. */
export interface Unsubscribe {
  kind: typeof Kind.Unsubscribe;
  target: number;
  event: string;
}

/** Owner to subscribed clients: `reg.emit(event, ...args)`. */
export interface Event {
  kind: typeof Kind.Event;
  target: number;
  event: string;
  args: unknown[];
}

// --- Streams: a method's async iterable, flowing with credit-based backpressure ---

/** Producer to consumer: the next items, never more than the consumer's credit allows. */
export interface StreamItems {
  kind: typeof Kind.StreamItems;
  /** The stream id, from the stream reference in the Reply. */
  stream: number;
  values: unknown[];
}

/** Consumer to producer: room for `credit` more items. */
export interface StreamCredit {
  kind: typeof Kind.StreamCredit;
  stream: number;
  credit: number;
}

/** Producer to consumer: no more items; with `error` if the iterator threw. */
export interface StreamEnd {
  kind: typeof Kind.StreamEnd;
  stream: number;
  error?: ErrorRecord;
}

/** Consumer to producer: stop (the consumer broke out of its loop); the iterator is returned. */
export interface StreamCancel {
  kind: typeof Kind.StreamCancel;
  stream: number;
}

// --- Statistics, client to owner endpoint ---

/**
 * The owner's call statistics of its registered objects: of `moniker`, or of every one whose
 * moniker starts with `prefix` (exactly one of the two). Answered by Reply with a
 * StatisticsReport[] in moniker order (empty when the owner holds none of them), or Failure.
 */
export interface Statistics {
  kind: typeof Kind.Statistics;
  id: number;
  moniker?: string;
  prefix?: string;
}

// --- Large messages ---

/**
 * One piece of a message too large for one frame. The pieces of a transfer arrive in order,
 * interleaved with other messages; the receiver decodes the whole once the last has come.
 */
export interface Chunk {
  kind: typeof Kind.Chunk;
  /** Names the transfer among this sender's transfers in progress. */
  transfer: number;
  /** Where `data` goes in the whole message; must equal the bytes received so far. */
  offset: number;
  /** The whole message's size in bytes; on every chunk, and the same on each. */
  total: number;
  data: Uint8Array;
  /** The id of the request inside, if it is one: a receiver that refuses the transfer fails that call. */
  request?: number;
  /** The id of the request this message answers, if it is a Reply: a refusing receiver fails it locally. */
  reply?: number;
}

// --- Monitoring: an owner reports the calls it serves to a monitor connected to it ---

/**
 * Monitor to owner endpoint: report every call on objects whose moniker starts with `prefix`.
 * Answered by Reply(true); the id then names the monitor in CallRecords and Unmonitor.
 */
export interface Monitor {
  kind: typeof Kind.Monitor;
  id: number;
  /** Plain prefix; '' for every call. */
  prefix: string;
  /** Also send each call's arguments and result, as text cut to the owner's bound. */
  values?: boolean;
}

/** Monitor to owner: stop the monitor started by Monitor request `monitor`. Unanswered. */
export interface Unmonitor {
  kind: typeof Kind.Unmonitor;
  monitor: number;
}

/** One call as an owner reports it, once it has ended. */
export interface WireCallRecord {
  moniker: string;
  /** The method called; '' for a function passed by reference. */
  method: string;
  /** The process at the other end of the owner's connection: the caller, or the one called back. */
  peerPid: number;
  /** Milliseconds from its arrival to its end (for a stream, to the stream's end). */
  ms: number;
  /** 'ok' or the code of the error it ended with. */
  outcome: string;
  /** Encoded bytes of the call message. */
  bytesIn: number;
  /** Encoded bytes of its answer, and of its stream's items and end. */
  bytesOut: number;
  /** When it ended, milliseconds since the epoch. */
  endedAt: number;
  /** Sent one-way: nobody waited for an answer. */
  oneway?: boolean;
  /** Its result was a stream; `items` counts what was sent of it. */
  stream?: boolean;
  items?: number;
  /** A function or ref() object passed by reference and called back by the owner. */
  callback?: boolean;
  /** With Monitor.values: the arguments, as text cut short. */
  args?: string;
  /** With Monitor.values: the result (or the error's message), as text cut short. */
  result?: string;
}

/** Owner to monitor: the calls that ended since the last batch. */
export interface CallRecords {
  kind: typeof Kind.CallRecords;
  /** The id of the Monitor request these belong to. */
  monitor: number;
  records: WireCallRecord[];
  /** Records this monitor missed, before the first of these, while it read too slowly. */
  missed?: number;
}

// --- Answers, in either direction ---

export interface Reply {
  kind: typeof Kind.Reply;
  /** The id of the request answered. */
  id: number;
  value: unknown;
}

export interface Failure {
  kind: typeof Kind.Failure;
  /** The id of the request answered; 0 when the failure concerns the connection itself. */
  id: number;
  error: ErrorRecord;
}

export type Message =
  | Hello
  | Welcome
  | Register
  | Revoke
  | List
  | ListNames
  | Lookup
  | Touch
  | Watch
  | Unwatch
  | Status
  | Activate
  | Services
  | TableEvent
  | Lost
  | ListPart
  | Call
  | Invoke
  | Cancel
  | Release
  | Subscribe
  | Unsubscribe
  | Event
  | Reply
  | Failure
  | StreamItems
  | StreamCredit
  | StreamEnd
  | StreamCancel
  | Chunk
  | Monitor
  | Unmonitor
  | CallRecords
  | Statistics;

/** Requests answered by Reply or Failure. */
export type Request =
  | Register
  | Revoke
  | List
  | ListNames
  | Lookup
  | Touch
  | Watch
  | Unwatch
  | Status
  | Activate
  | Services
  | Call
  | Invoke
  | Subscribe
  | Monitor
  | Statistics;

/** What each request's Reply carries. */
export interface ReplyValues {
  [Kind.Register]: WireEntry;
  [Kind.Revoke]: boolean;
  [Kind.List]: WireEntry[];
  [Kind.ListNames]: NameBatch;
  [Kind.Lookup]: WireEntry | null;
  [Kind.Touch]: WireEntry;
  [Kind.Watch]: WireEntry[];
  [Kind.Unwatch]: boolean;
  [Kind.Status]: BrokerStatus;
  [Kind.Activate]: WireEntry | null;
  [Kind.Services]: ServiceInfo[];
  [Kind.Call]: unknown;
  [Kind.Invoke]: unknown;
  [Kind.Subscribe]: boolean;
  [Kind.Monitor]: boolean;
  [Kind.Statistics]: StatisticsReport[];
}

/** A request as its sender writes it, before the connection gives it an id. */
export type Unnumbered<R extends Request> = R extends Request ? Omit<R, 'id'> : never;

/**
 * Messages whose order the receiver relies on: one-way calls, events, stream traffic, releases.
 * Requests and answers are matched by id and may overtake a large message.
 */
export function isOrdered(message: Message): boolean {
  switch (message.kind) {
    case Kind.Call:
    case Kind.Invoke:
      return message.id === 0;
    case Kind.Reply:
    case Kind.Failure:
    case Kind.Chunk:
    // Rows of a List travel with its Reply, never behind a transfer it does not wait for.
    case Kind.ListPart:
    case Kind.Hello:
    case Kind.Welcome:
      return false;
    default:
      return !('id' in message);
  }
}
