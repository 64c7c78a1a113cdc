// What the viewer's server and its page say to each other: the live feed, calls, event
// subscriptions. Shared by the Node server and the browser page, so it must import nothing from
// Node (only other Node-free modules, such as the wire protocol's types).

import type { EntryJson } from '../../naming/entry.js';
import type { BrokerStatus, CallFigures, TableEventType } from '../../wire/protocol.js';

/** Paths the server answers; every one needs the token. */
export const ROUTES = {
  page: '/',
  script: '/app.js',
  styles: '/app.css',
  /** Server-Sent Events: the table, live (`FeedEvent`s). */
  feed: '/api/feed',
  /** POST a `CallRequest`; the answer is NDJSON `CallLine`s. */
  call: '/api/call',
  /** Server-Sent Events: one object's named event (`?moniker=&event=`), as `EventLine`s. */
  events: '/api/events',
  /** GET `?moniker=`: the object's call statistics from its owner, as a `StatsAnswer`. */
  stats: '/api/stats',
} as const;

/** The query parameter that carries the token on the first load. */
export const TOKEN_PARAM = 'token';

/** A table entry as the page sees it: dates as ISO strings, since it arrives as JSON. */
/** An entry as the page gets it: dates as ISO 8601 strings. */
export type ViewerEntry = EntryJson;

/** What this viewer measured about the calls it made itself, per moniker (in flight included). */
export interface ViewerCounts {
  /** Calls sent from this viewer. */
  calls: number;
  /** Of those, how many failed. */
  failures: number;
  /** Stream items received. */
  items: number;
  /** Events received through this viewer's subscriptions. */
  events: number;
}

/** Messages on the feed; the SSE event name is `type`. */
export type FeedEvent =
  | { type: TableEventType; entry: ViewerEntry }
  | {
      type: 'status';
      /** The table the viewer shows: its directory, or its etcd address. */
      dir: string;
      /** Where the table's names live: a local broker, or etcd (which has no broker process). */
      backend: 'broker' | 'etcd';
      /** The viewer's own pid: it is a client of the table like any other. */
      viewerPid: number;
      /**
       * The broker's figures (on etcd, table.status()'s: pid 0, the etcd address), or null while
       * no broker runs or etcd does not answer (the viewer waits for it).
       */
      broker: BrokerStatus | null;
    }
  | { type: 'counts'; counts: Record<string, ViewerCounts> }
  | ({ type: 'traffic' } & ViewerTraffic);

/**
 * Every call of the table, from its monitor: the calls of each caller process to each moniker
 * since the viewer started (or since the pair was last idle), the most recent failures, and how
 * many calls the owners dropped unseen because the viewer read too slowly.
 */
export interface ViewerTraffic {
  pairs: TrafficPair[];
  /** Newest first. */
  errors: TrafficError[];
  missed: number;
}

/** The calls one process made to one moniker. The viewer's own calls are those of its pid. */
export interface TrafficPair {
  callerPid: number;
  ownerPid: number;
  moniker: string;
  calls: number;
  /** Of those, how many ended with an error. */
  errors: number;
  /** When the last one ended, ISO 8601. */
  lastAt: string;
}

/** One failed call, as the monitor saw it. */
export interface TrafficError {
  callerPid: number;
  ownerPid: number;
  moniker: string;
  method: string;
  /** The error's code. */
  outcome: string;
  at: string;
}

export type FeedEventType = FeedEvent['type'];

export const FEED_EVENT_TYPES: readonly FeedEventType[] = [
  'registered',
  'revoked',
  'changed',
  'status',
  'counts',
  'traffic',
];

export interface CallRequest {
  moniker: string;
  method: string;
  /** Already parsed JSON values; the page never sends text it could not parse. */
  args: unknown[];
}

/** An error as the page shows it. */
export interface ViewerError {
  /** A RuntableError code, or VIEWER for a mistake in the request itself. */
  code: string;
  message: string;
  /** With REMOTE: the thrown error's name and code. */
  name?: string;
  remoteCode?: unknown;
}

/** One line of a call's answer: a result, or a stream's items then its end; or an error at any point. */
export type CallLine =
  | { type: 'result'; value: unknown }
  | { type: 'item'; value: unknown }
  | { type: 'end'; items: number }
  | { type: 'error'; error: ViewerError };

/** Codes meaning the object is no longer there: the page drops it from the list. */
export const GONE_CODES: readonly string[] = ['NOT_REGISTERED', 'OBJECT_GONE'];

/** On the events stream: `ready` once subscribed, then `event` per emit; `failure` ends it. */
export type EventLine =
  | { type: 'ready' }
  | { type: 'event'; args: unknown[]; at: string }
  | { type: 'failure'; error: ViewerError };

/** One method's call figures (or an object's totals) as JSON: latencies in ms, `since` in ISO 8601. */
export interface ViewerMethodStats extends CallFigures {
  since: string;
}

/** An object's call statistics, as its owner counted them since it registered it. */
export interface ViewerStats {
  moniker: string;
  pid: number;
  since: string;
  methods: Record<string, ViewerMethodStats>;
  /** Every call, those naming no method included. */
  total: ViewerMethodStats;
}

/** The answer to a statistics request: the figures, or why there are none. */
export type StatsAnswer = { stats: ViewerStats } | { error: ViewerError };
