// The naming side as the Table sees it: one small interface, so that where the table is held
// (a local broker over a Unix socket, or etcd across machines) is a choice made in connect().
// Nothing here knows about sockets, brokers or etcd; the calls never pass through a backend.

import type { RuntableError } from '../errors.js';
import type { BrokerStatus, Register, ServiceInfo, TableEventType, Unnumbered, WireEntry } from '../wire/protocol.js';
import type { Entry } from './entry.js';

/** A moniker this process owns, as a backend needs it to register it again. */
export interface OwnedName {
  readonly moniker: string;
  /** The Register message that restores the entry as it was. */
  registration(): Unnumbered<Register>;
  /** The table accepted it again (after a broker restart or a lost lease). */
  restored(entry: WireEntry): void;
  /** The moniker is no longer this process's: replaced, taken meanwhile, or the table is gone. */
  lost(reason: RuntableError): void;
}

/** The receiving end of a watch. */
export interface WatchSink {
  readonly prefix: string;
  /**
   * The entries under the prefix now: first at start, and again (`resumed`) when the backend
   * could not resume without a gap, such as after a broker restart.
   */
  snapshot(entries: WireEntry[], resumed: boolean): void;
  event(type: TableEventType, entry: WireEntry): void;
  /** The watch cannot go on (the table went away for good). */
  fail(error: RuntableError): void;
}

export interface RegisterWaiting {
  /** ms; a queued register waits without end. */
  timeout?: number;
  signal?: AbortSignal;
}

/** What a Table needs of the place its names live. */
export interface NamingBackend {
  /** Registers `name` as `message` says, and keeps it to restore while it is ours. */
  register(name: OwnedName, message: Unnumbered<Register>, waiting?: RegisterWaiting): Promise<WireEntry>;
  /** Removes our entry (or our place in line) for `moniker`. */
  revoke(moniker: string): Promise<void>;
  /** Stops restoring `moniker`; said before revoke, so a reconnection does not bring it back. */
  disown(moniker: string): void;
  /** Revokes these monikers if the table is reachable now; never waits for it to come back. */
  revokeAll(monikers: string[]): Promise<void>;
  touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry>;
  list(prefix: string): Promise<Entry[]>;
  lookup(moniker: string): Promise<WireEntry | undefined>;
  /** Starts feeding `sink`: a snapshot first, then every change. */
  watch(sink: WatchSink): Promise<void>;
  unwatch(sink: WatchSink): Promise<void>;
  status(): Promise<BrokerStatus>;
  close(): Promise<void>;
  /**
   * The entry of `moniker`, starting the service that provides it if nobody holds it; undefined
   * when nothing holds it and nothing provides it. Absent where activation is not available (etcd).
   */
  activate?(moniker: string): Promise<WireEntry | undefined>;
  /** The service files the table can start, with their state; absent where activation is not available. */
  services?(): Promise<ServiceInfo[]>;
}
