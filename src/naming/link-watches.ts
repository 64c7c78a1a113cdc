// The watches a BrokerLink carries: each table.watch() is one Watch on the broker connection,
// whose events arrive numbered by the watch's id there. After a reconnection every watch is
// started again on the new connection, under a new id.

import type { RuntableError } from '../errors.js';
import type { Connection } from '../wire/connection.js';
import { Kind, type TableEvent, type TableEventType, type WireEntry } from '../wire/protocol.js';
import type { WatchSink } from './backend.js';
import { unpackEntries } from './entry-batch.js';

interface Route {
  sink: WatchSink;
  /** Events held until the snapshot is delivered; undefined once it is. */
  early: [TableEventType, WireEntry][] | undefined;
}

export class LinkWatches {
  /** Every watch, with its id on the current connection (0 until the broker numbered it). */
  readonly #watches = new Map<WatchSink, number>();
  /** Watch id on the current connection to its sink. */
  readonly #routes = new Map<number, Route>();

  /** Starts a new watch on `connection`: resolves once its snapshot is delivered. */
  async add(connection: Connection, sink: WatchSink): Promise<void> {
    this.#watches.set(sink, 0);
    await this.#start(connection, sink, false);
  }

  /** Ends a watch, telling the broker if `connection` is still up. */
  async remove(sink: WatchSink, connection: Connection | undefined): Promise<void> {
    const id = this.#watches.get(sink);
    this.#watches.delete(sink);
    if (id === undefined) return;
    this.#routes.delete(id);
    if (connection && !connection.closed) {
      await connection.request({ kind: Kind.Unwatch, watch: id }).catch(() => {});
    }
  }

  /** Starts every watch again on a fresh connection: each sink is told what changed meanwhile. */
  async resume(connection: Connection): Promise<void> {
    await Promise.all([...this.#watches.keys()].map((sink) => this.#start(connection, sink, true)));
  }

  /** The connection is gone: its watch ids mean nothing any more. */
  disconnected(): void {
    this.#routes.clear();
  }

  /** Hands an event to its watch; one that came in the same read as the snapshot waits for it. */
  deliver(event: TableEvent): void {
    const route = this.#routes.get(event.watch);
    if (route?.early) route.early.push([event.type, event.entry]);
    else route?.sink.event(event.type, event.entry);
  }

  /** The table is gone for good: every watch fails with `error`. */
  fail(error: RuntableError): void {
    for (const sink of this.#watches.keys()) sink.fail(error);
    this.#watches.clear();
  }

  async #start(connection: Connection, sink: WatchSink, resumed: boolean): Promise<void> {
    let route: Route | undefined;
    const snapshot = await connection.request(
      { kind: Kind.Watch, prefix: sink.prefix },
      {
        numbered: (id) => {
          route = { sink, early: [] };
          this.#watches.set(sink, id);
          this.#routes.set(id, route);
        },
      },
    );
    if (!route || !this.#watches.has(sink)) return;
    sink.snapshot(unpackEntries(snapshot), resumed);
    // Events that arrived in the same read as the snapshot's reply were held back until now.
    const early = route.early;
    route.early = undefined;
    for (const [type, entry] of early ?? []) sink.event(type, entry);
  }
}
