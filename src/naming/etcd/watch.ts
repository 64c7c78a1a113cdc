// One table.watch() on etcd: a snapshot by prefix range, then a prefix watch from the revision
// right after it, so no change falls between them. etcd3 resumes the watch from the last
// revision it saw after a reconnect; if etcd compacted that revision away, a fresh range is
// compared with what the sink was told, so it still hears each change once.

import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { TableEventType, WireEntry } from '../../wire/protocol.js';
import type { WatchSink } from '../backend.js';
import { sameRegistration } from '../entry.js';
import { decodeEntry, type KeyLayout } from './keys.js';

export class EtcdWatch {
  readonly #client: Etcd3;
  readonly #layout: KeyLayout;
  readonly #sink: WatchSink;
  /** What the sink has been told exists. */
  readonly #known = new Map<string, WireEntry>();
  #watcher: Watcher | undefined;
  #closed = false;

  constructor(client: Etcd3, layout: KeyLayout, sink: WatchSink) {
    this.#client = client;
    this.#layout = layout;
    this.#sink = sink;
  }

  async start(): Promise<void> {
    const revision = await this.#snapshot(false);
    await this.#follow(revision);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#watcher?.cancel().catch(() => {});
  }

  /** Reads the range; returns its revision. */
  async #snapshot(resumed: boolean): Promise<string> {
    const range = await this.#client.getAll().prefix(this.#layout.entry(this.#sink.prefix)).exec();
    const entries: WireEntry[] = [];
    for (const kv of range.kvs) {
      const entry = decodeEntry(kv.key.toString(), kv.value, this.#layout);
      if (entry) entries.push(entry);
    }
    if (!resumed) {
      for (const entry of entries) this.#known.set(entry.moniker, entry);
      this.#sink.snapshot(entries, false);
    } else {
      const present = new Set(entries.map((entry) => entry.moniker));
      for (const [moniker, old] of [...this.#known]) if (!present.has(moniker)) this.#tell('revoked', old);
      for (const entry of entries) this.#put(entry);
    }
    return range.header.revision;
  }

  async #follow(revision: string): Promise<void> {
    const watcher = this.#client
      .watch()
      .prefix(this.#layout.entry(this.#sink.prefix))
      .startRevision((BigInt(revision) + 1n).toString())
      .watcher();
    this.#watcher = watcher;
    if (this.#closed) {
      // Closed while its range was read (a wait that the snapshot already satisfied): no watcher may outlive it.
      await watcher.cancel().catch(() => {});
      return;
    }
    watcher.on('put', (kv: IKeyValue) => {
      const entry = decodeEntry(kv.key.toString(), kv.value, this.#layout);
      if (entry) this.#put(entry);
    });
    watcher.on('delete', (kv: IKeyValue) => {
      const moniker = this.#layout.monikerOf(kv.key.toString());
      const old = moniker === undefined ? undefined : this.#known.get(moniker);
      if (old) this.#tell('revoked', old);
    });
    watcher.on('error', () => void this.#restart());
    await new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
    });
  }

  /** The watch broke for good (its revision compacted away): range again and follow from there. */
  async #restart(): Promise<void> {
    const old = this.#watcher;
    this.#watcher = undefined;
    await old?.cancel().catch(() => {});
    while (!this.#closed) {
      try {
        await this.#follow(await this.#snapshot(true));
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500).unref());
      }
    }
  }

  #put(entry: WireEntry): void {
    const old = this.#known.get(entry.moniker);
    if (old && sameRegistration(old, entry)) {
      if (old.changedAt.getTime() !== entry.changedAt.getTime()) this.#tell('changed', entry);
      return;
    }
    // A new owner under a known name: the sink turns it into a revoke and a register.
    this.#tell('registered', entry);
  }

  #tell(type: TableEventType, entry: WireEntry): void {
    if (this.#closed) return;
    if (type === 'revoked') this.#known.delete(entry.moniker);
    else this.#known.set(entry.moniker, entry);
    this.#sink.event(type, entry);
  }
}
