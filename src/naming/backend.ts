// The naming side as the Table sees it: one small interface, so that where the table is held
// (a local broker over a Unix socket, or etcd across machines) is a choice made in connect().
// Nothing here knows about sockets, brokers or etcd; the calls never pass through a backend.

import type { RuntableError } from '../errors.js';
import type { BrokerStatus, ServiceInfo, TableEventType, WireEntry } from '../wire/protocol.js';
import type { Entry } from './entry.js';

/** A registration as a process asks a table to hold it, whichever backend holds the table. */
export interface RegistrationRecord {
  moniker: string;
  /** Where the owner takes calls: its endpoint's address (a socket path, or tcp://host:port). */
  endpoint: string;
  /** The object's id on that endpoint. */
  object: number;
  methods: string[];
  metadata: Record<string, unknown>;
  /** Take the moniker from its live owner, who is told it lost it. */
  replace?: boolean;
  /** Wait in line for the moniker if it is taken (hot standby). */
  queue?: boolean;
  /** Set when the entry is restored (after a broker restart or a lost lease), so it keeps its identity. */
  registeredAt?: Date;
  /** Set with registeredAt. */
  changedAt?: Date;
}

/**
 * What table.status() reports, filled by either backend: a broker's own figures for a local
 * table; for one on etcd, which has no broker, what this process knows of it.
 */
export interface TableStatus extends BrokerStatus {
  /**
   * Where the names are held. `'broker'`: a broker process on this machine, whose pid `pid` is.
   * `'etcd'`: an etcd cluster; there is no broker process, so `pid` is 0, `uptime` counts from
   * this process's connect, `connections` is this process's watches and `dir` the etcd address.
   */
  backend: 'broker' | 'etcd';
}

/** A moniker this process owns, as a backend needs it to register it again. */
export interface OwnedName {
  readonly moniker: string;
  /** The registration that restores the entry as it was. */
  registration(): RegistrationRecord;
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
  /** Registers `name` as `record` says, and keeps it to restore while it is ours. */
  register(name: OwnedName, record: RegistrationRecord, waiting?: RegisterWaiting): Promise<WireEntry>;
  /** Removes our entry (or our place in line) for `moniker`. */
  revoke(moniker: string): Promise<void>;
  /** Stops restoring `moniker`; said before revoke, so a reconnection does not bring it back. */
  disown(moniker: string): void;
  /** Revokes these monikers if the table is reachable now; never waits for it to come back. */
  revokeAll(monikers: string[]): Promise<void>;
  touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry>;
  list(prefix: string): Promise<Entry[]>;
  /** The monikers under `prefix`, in the order list() gives their entries. */
  listNames(prefix: string): Promise<string[]>;
  lookup(moniker: string): Promise<WireEntry | undefined>;
  /** Starts feeding `sink`: a snapshot first, then every change. */
  watch(sink: WatchSink): Promise<void>;
  unwatch(sink: WatchSink): Promise<void>;
  status(): Promise<TableStatus>;
  close(): Promise<void>;
  /**
   * The entry of `moniker`, starting the service that provides it if nobody holds it; undefined
   * when nothing holds it and nothing provides it. Absent where activation is not available (etcd).
   */
  activate?(moniker: string): Promise<WireEntry | undefined>;
  /** The service files the table can start, with their state; absent where activation is not available. */
  services?(): Promise<ServiceInfo[]>;
}
