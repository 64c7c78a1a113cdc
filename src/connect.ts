// Joining a table: connect() checks its options, picks the naming backend (the local broker, or
// etcd for a table across machines), and builds the one set of limits and call settings every
// connection of the process then uses. It never holds the process once connected.

import { loadTracing } from './calls/tracing.js';
import { RuntableError } from './errors.js';
import { BrokerLink } from './naming/broker-link.js';
import { type DistributedOptions, etcdSettings } from './naming/etcd/settings.js';
import { boolean, checkOptions, ms, plainObject, positiveInteger, string } from './options.js';
import { Table } from './table.js';
import { holdUntil, MAX_TIMER_MS } from './transport/keep-alive.js';
import { tcpNetwork, unixNetwork } from './transport/network.js';
import { prepareTableDir, resolveTableDir } from './transport/paths.js';
import { limitsOf } from './wire/limits.js';
import { tableToken } from './wire/token.js';

/** Default for connecting and for calls without a timeout of their own, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Options of {@link connect}. Every one is optional; with none, the process joins the local table
 * of its user, starting its broker if none runs.
 */
export interface ConnectOptions extends DistributedOptions {
  /**
   * The table directory. Default: `RUNTABLE_DIR`, else `$XDG_RUNTIME_DIR/runtable`, else
   * `<os.tmpdir()>/runtable-<uid>`. Created with mode 0700; one that is a symlink, another user's,
   * or open to group or others is refused with `ACCESS_DENIED`.
   */
  dir?: string;
  /** Start a broker when none runs. Default `true`; with `false`, no broker is `TABLE_UNAVAILABLE`. */
  autoStart?: boolean;
  /** Milliseconds for connecting, and for calls that set no timeout of their own. Default 30000. */
  timeout?: number;
  /** Idle exit of a broker this process starts, ms (0: never). Default `RUNTABLE_BROKER_IDLE_MS`, else 30000. */
  brokerIdleTimeout?: number;
  /** Ask owners for remote stacks and send our own. Default: `RUNTABLE_DEBUG` is set. */
  debug?: boolean;
  /** The largest whole message sent or taken on calls, bytes. Default 1 GiB; a larger one is `FRAME_TOO_LARGE`. */
  maxMessageBytes?: number;
  /**
   * Bytes a call peer may leave unread (beyond the one largest message) before its connection is
   * dropped, so a peer that stops reading cannot make this process buffer without bound; default 64 MiB.
   */
  maxPendingBytes?: number;
}

/**
 * Joins a running object table: the local one of this user (starting its broker if none runs),
 * or, with `table: 'etcd://host:2379'`, one held by etcd (which needs `npm install etcd3`).
 *
 * @example
 * ```ts
 * const table = await connect();
 * await table.register('Greeter/main', { hello: (name: string) => `hello, ${name}` });
 * ```
 * @throws {RuntableError} `BAD_ARGUMENT` for an option of the wrong type, out of range or
 * unknown; `ACCESS_DENIED` for a table directory that is a symlink, another user's or open to
 * others (the message names the fix); `TABLE_UNAVAILABLE` when the directory cannot be used or
 * created, no broker runs and `autoStart` is false, the broker does not start within `timeout`,
 * or etcd (or the `etcd3` package) is not there; `PROTOCOL` for a broker of another protocol
 * version.
 */
export function connect(options: ConnectOptions = {}): Promise<Table> {
  // Held while it runs, whatever it waits on (a broker starting, a poll for another's start).
  return holdUntil(open(options));
}

/** What each option of connect() takes. */
const CONNECT_OPTIONS = {
  dir: string,
  autoStart: boolean,
  timeout: ms,
  brokerIdleTimeout: ms,
  debug: boolean,
  maxMessageBytes: positiveInteger,
  maxPendingBytes: positiveInteger,
  table: string,
  prefix: string,
  leaseTtl: positiveInteger,
  listen: plainObject,
  tls: plainObject,
  secret: string,
};

async function open(options: ConnectOptions): Promise<Table> {
  checkOptions('connect()', options, CONNECT_OPTIONS);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const debug = options.debug ?? Boolean(process.env.RUNTABLE_DEBUG);
  const limits = limitsOf(options);
  const table = options.table ?? process.env.RUNTABLE_TABLE;
  // Once per process, and only if the program has @opentelemetry/api: then calls carry trace context.
  await loadTracing();
  if (table) {
    // A table spread over machines: names in etcd, calls over TCP.
    const settings = etcdSettings(table, options);
    // Loaded only here: etcd3 brings gRPC, which a process on the local table never needs.
    const { EtcdBackend } = await import('./naming/etcd/etcd-backend.js');
    const backend = await EtcdBackend.open(settings, timeout);
    const network = tcpNetwork(settings.listen, settings.tls);
    return Table.create(table, backend, { timeout, debug, token: settings.token, network, limits });
  }
  const dir = resolveTableDir(options.dir);
  prepareTableDir(dir);
  const token = tableToken(dir);
  const brokerIdleMs = brokerIdleTimeout(options.brokerIdleTimeout);
  const link = await BrokerLink.open({
    dir,
    autoStart: options.autoStart ?? true,
    timeout,
    token,
    ...(brokerIdleMs === undefined ? {} : { brokerIdleMs }),
  });
  return Table.create(dir, link, { timeout, debug, token, network: unixNetwork(dir), limits });
}

/** The broker's idle exit in ms (0: never), from the option or RUNTABLE_BROKER_IDLE_MS. */
function brokerIdleTimeout(option: number | undefined): number | undefined {
  const env = process.env.RUNTABLE_BROKER_IDLE_MS;
  const idle = option ?? (env ? Number(env) : undefined);
  if (idle === undefined) return undefined;
  if (!(idle >= 0)) {
    throw new RuntableError('BAD_ARGUMENT', `RUNTABLE_BROKER_IDLE_MS must be a number of ms, 0 or more, not ${env}`);
  }
  // Past what setTimeout can count, the broker would exit at once: that long is never.
  return idle > MAX_TIMER_MS ? 0 : idle;
}
