// The table held by etcd: the naming side of a table spread over machines. One lease per
// process carries its entries, so they vanish when it dies (within the lease's TTL); register is
// a create-if-absent transaction; list is a prefix range; watch is a range plus a prefix watch
// from its revision. If the lease is lost (etcd away longer than the TTL), a new one is granted
// and every owned name is claimed again, or reported lost if another owner took it meanwhile.

import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { RuntableError } from '../../errors.js';
import { PROTOCOL_VERSION, type WaitingLine, type WireEntry } from '../../wire/protocol.js';
import type {
  NamingBackend,
  OwnedName,
  RegisterWaiting,
  RegistrationRecord,
  TableStatus,
  WatchSink,
} from '../backend.js';
import { type Entry, toPublicEntry } from '../entry.js';
import { checkMetadata, entryOf } from '../entry-rules.js';
import { checkMoniker } from '../moniker.js';
import { decodeEntry, encodeEntry, KeyLayout } from './keys.js';
import { EtcdLease } from './lease.js';
import { waitInLine } from './line.js';
import { loadEtcd3 } from './load.js';
import type { EtcdSettings } from './settings.js';
import { answerWithin } from './timeout.js';
import { EtcdWatch } from './watch.js';

/** etcd3 waits this long, doubling, before it reopens a broken watch stream. */
const WATCH_RETRY_FIRST_MS = 50;
/**
 * Its own default grows to 30 s, which delays both a watch's return after an outage and, as its
 * timer holds the event loop, the exit of a process that closed its table: keep it short.
 */
const WATCH_RETRY_MAX_MS = 1000;

interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

function watchBackoff(duration = WATCH_RETRY_FIRST_MS): Backoff {
  return { duration, next: () => watchBackoff(Math.min(duration * 2, WATCH_RETRY_MAX_MS)) };
}

export class EtcdBackend implements NamingBackend {
  readonly #client: Etcd3;
  readonly #settings: EtcdSettings;
  readonly #timeout: number;
  readonly layout: KeyLayout;
  /** The lease that carries this process's keys, granted on first register. */
  readonly #lease: EtcdLease;
  readonly #owned = new Map<string, { name: OwnedName; entry: WireEntry; watcher: Watcher | undefined }>();
  readonly #watches = new Map<WatchSink, EtcdWatch>();
  /** Queued registers still waiting, by moniker: aborting them leaves the line. */
  readonly #inLine = new Map<string, AbortController>();
  /** Registers under way: they may be using the lease before anything of theirs is on it. */
  #registering = 0;
  #closing = false;
  readonly #startedAt = Date.now();

  private constructor(client: Etcd3, settings: EtcdSettings, timeout: number) {
    this.#client = client;
    this.#settings = settings;
    this.#timeout = timeout;
    this.layout = new KeyLayout(settings.prefix);
    this.#lease = new EtcdLease(client, settings.leaseTtl, {
      idle: () => this.#idle(),
      closing: () => this.#closing,
      restoreAll: () => this.#restoreAll(),
      answer: (work, what) => this.#answer(work, what),
      assertOpen: () => this.#assertOpen(),
    });
  }

  /** Connects and checks etcd answers; TABLE_UNAVAILABLE, naming the address, if it does not. */
  static async open(settings: EtcdSettings, timeout: number): Promise<EtcdBackend> {
    const { Etcd3 } = await loadEtcd3(settings.address);
    const client = new Etcd3({
      hosts: settings.hosts,
      dialTimeout: timeout,
      faultHandling: { watchBackoff: watchBackoff() },
      ...(settings.secure && settings.tls
        ? {
            credentials: {
              rootCertificate: Buffer.from(settings.tls.ca),
              privateKey: Buffer.from(settings.tls.key),
              certChain: Buffer.from(settings.tls.cert),
            },
          }
        : {}),
    });
    const backend = new EtcdBackend(client, settings, timeout);
    try {
      await backend.#answer(client.get(backend.layout.root).exec(), 'connecting');
    } catch (error) {
      client.close();
      throw error;
    }
    return backend;
  }

  get client(): Etcd3 {
    return this.#client;
  }

  async register(name: OwnedName, message: RegistrationRecord, waiting: RegisterWaiting = {}): Promise<WireEntry> {
    this.#assertOpen();
    checkMetadata(message.metadata);
    this.#registering++;
    try {
      return await this.#register(name, message, waiting);
    } finally {
      this.#registering--;
      await this.#lease.dropIfIdle();
    }
  }

  async #register(name: OwnedName, message: RegistrationRecord, waiting: RegisterWaiting): Promise<WireEntry> {
    const entry = entryOf(message, process.pid);
    let revision: string | undefined;
    if (message.queue) {
      const controller = new AbortController();
      const signal = waiting.signal ? AbortSignal.any([waiting.signal, controller.signal]) : controller.signal;
      this.#inLine.set(message.moniker, controller);
      try {
        await waitInLine(this.#client, this.layout, message.moniker, {
          lease: () => this.#lease.id(),
          claim: async () => {
            revision = await this.#claim(entry, 'create', true);
            return revision !== undefined;
          },
          signal,
        });
      } finally {
        if (this.#inLine.get(message.moniker) === controller) this.#inLine.delete(message.moniker);
      }
    } else {
      revision = await this.#claim(entry, message.replace ? 'replace' : 'create', false);
      if (revision === undefined) throw alreadyRegistered(message.moniker);
    }
    try {
      await this.#own(name, entry, revision as string);
    } catch (error) {
      // Unwatched, the entry could be taken without our knowing: give it up rather than keep it.
      this.disown(entry.moniker);
      await this.revoke(entry.moniker).catch(() => {});
      throw error;
    }
    return entry;
  }

  async revoke(moniker: string): Promise<void> {
    this.disown(moniker);
    this.#inLine.get(moniker)?.abort();
    // The last of ours: revoking the lease takes the entry with it, and stops its keep-alive.
    if (this.#idle()) return this.#lease.dropIfIdle();
    const id = await this.#lease.currentId();
    if (id === undefined) return;
    const key = this.layout.entry(moniker);
    await this.#answer(
      this.#client.if(key, 'Lease', '==', id).then(this.#client.delete().key(key)).commit(),
      `revoking ${moniker}`,
    );
  }

  disown(moniker: string): void {
    const owned = this.#owned.get(moniker);
    this.#owned.delete(moniker);
    void owned?.watcher?.cancel().catch(() => {});
  }

  async revokeAll(monikers: string[]): Promise<void> {
    for (const moniker of monikers) this.disown(moniker);
    for (const controller of this.#inLine.values()) controller.abort();
    // One revoke drops every key of this process at once, entries and places in line alike.
    await this.#lease.revoke();
  }

  async touch(moniker: string, metadata?: Record<string, unknown>): Promise<WireEntry> {
    const owned = this.#owned.get(moniker);
    if (!owned) throw new RuntableError('NOT_REGISTERED', `${moniker} is not registered by this process`);
    if (metadata) checkMetadata(metadata);
    const entry = { ...owned.entry, changedAt: new Date(), ...(metadata ? { metadata } : {}) };
    const id = await this.#lease.id();
    const key = this.layout.entry(moniker);
    const result = await this.#answer(
      this.#client
        .if(key, 'Lease', '==', id)
        .then(this.#client.put(key).value(encodeEntry(entry)).lease(id))
        .commit(),
      `touching ${moniker}`,
    );
    if (!result.succeeded) throw new RuntableError('NOT_REGISTERED', `${moniker} is no longer this process's`);
    owned.entry = entry;
    return entry;
  }

  async list(prefix: string): Promise<Entry[]> {
    const range = await this.#answer(this.#client.getAll().prefix(this.layout.entry(prefix)).exec(), 'listing');
    return this.#decode(range.kvs).map(toPublicEntry);
  }

  async listNames(prefix: string): Promise<string[]> {
    // Keys only: no value is read or decoded. A key whose value is not an entry, which list() skips
    // with a warning, is listed here by its name (only its name is checked).
    const keys = await this.#answer(this.#client.getAll().prefix(this.layout.entry(prefix)).keys(), 'listing names');
    const names: string[] = [];
    for (const key of keys) {
      const moniker = this.layout.monikerOf(key);
      if (moniker !== undefined && isMoniker(moniker)) names.push(moniker);
    }
    return names;
  }

  async lookup(moniker: string): Promise<WireEntry | undefined> {
    const range = await this.#answer(this.#client.get(this.layout.entry(moniker)).exec(), `looking up ${moniker}`);
    return this.#decode(range.kvs)[0];
  }

  async watch(sink: WatchSink): Promise<void> {
    this.#assertOpen();
    const watch = new EtcdWatch(this.#client, this.layout, sink);
    this.#watches.set(sink, watch);
    try {
      await this.#answer(watch.start(), 'starting a watch');
    } catch (error) {
      this.#watches.delete(sink);
      await watch.close();
      throw error;
    }
  }

  async unwatch(sink: WatchSink): Promise<void> {
    const watch = this.#watches.get(sink);
    this.#watches.delete(sink);
    await watch?.close();
  }

  async status(): Promise<TableStatus> {
    const [entries, places] = await Promise.all([
      this.#answer(this.#client.getAll().prefix(this.layout.entries).count(), 'counting'),
      this.#answer(
        this.#client.getAll().prefix(this.layout.lines).sort('Create', 'Ascend').exec(),
        'reading who waits in line',
      ),
    ]);
    return {
      backend: 'etcd',
      pid: 0,
      uptime: Date.now() - this.#startedAt,
      entries,
      connections: this.#watches.size,
      dir: this.#settings.address,
      version: PROTOCOL_VERSION,
      waiting: this.#waiting(places.kvs),
    };
  }

  /** The lines as the broker reports them: per moniker, the waiting pids, next first (lowest create revision). */
  #waiting(kvs: IKeyValue[]): WaitingLine[] {
    const lines = new Map<string, number[]>();
    for (const kv of kvs) {
      const moniker = this.layout.lineMonikerOf(kv.key.toString());
      let pid: unknown;
      try {
        pid = (JSON.parse(kv.value.toString()) as { pid?: unknown }).pid;
      } catch {
        // Not a place of ours: skipped, as a bad entry is.
      }
      if (moniker === undefined || !Number.isSafeInteger(pid)) continue;
      lines.set(moniker, [...(lines.get(moniker) ?? []), pid as number]);
    }
    return [...lines].map(([moniker, pids]) => ({ moniker, pids }));
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.revokeAll([...this.#owned.keys()]);
    await Promise.all([...this.#watches.values()].map((watch) => watch.close()));
    this.#watches.clear();
    this.#client.close();
  }

  /**
   * Puts `entry` under this process's lease if the moniker is free, or held by one of our own
   * leases (ours from before a lost lease), or in any case with 'replace'. Resolves with the
   * revision of the write, or undefined if another owner has the moniker.
   */
  async #claim(entry: WireEntry, mode: 'create' | 'replace', restoring: boolean): Promise<string | undefined> {
    const key = this.layout.entry(entry.moniker);
    for (;;) {
      const id = await this.#lease.id();
      const value = encodeEntry(entry);
      const put = this.#client.put(key).value(value).lease(id);
      const created = await this.#answer(
        this.#client.if(key, 'Create', '==', 0).then(put).else(this.#client.get(key)).commit(),
        `registering ${entry.moniker}`,
      );
      if (created.succeeded) return created.header.revision;
      const current = created.responses[0]?.response_range?.kvs[0];
      if (!current) continue;
      // Our own write, committed by a member that died before answering, then retried on another.
      if (String(current.lease) === id && current.value.toString() === value) return current.mod_revision;
      const ours = this.#lease.isOurs(String(current.lease));
      if (!(mode === 'replace' || (ours && restoring))) return undefined;
      const taken = await this.#answer(
        this.#client.if(key, 'Mod', '==', current.mod_revision).then(put).commit(),
        `registering ${entry.moniker}`,
      );
      if (taken.succeeded) return taken.header.revision;
    }
  }

  /** Keeps `name` to restore, and watches its key to learn if another owner takes it. */
  async #own(name: OwnedName, entry: WireEntry, revision: string): Promise<void> {
    const key = this.layout.entry(entry.moniker);
    const owned = { name, entry, watcher: undefined as Watcher | undefined };
    this.#owned.set(entry.moniker, owned);
    // From just after our write: a replace that follows at once is still seen.
    const watcher = await this.#answer(
      this.#client
        .watch()
        .key(key)
        .startRevision((BigInt(revision) + 1n).toString())
        .create(),
      `watching ${entry.moniker}`,
    );
    if (this.#owned.get(entry.moniker) !== owned) {
      await watcher.cancel().catch(() => {});
      return;
    }
    owned.watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      if (this.#owned.get(entry.moniker) !== owned || this.#lease.isOurs(String(kv.lease))) return;
      this.disown(entry.moniker);
      name.lost(alreadyRegistered(entry.moniker, 'was taken over by another owner'));
      void this.#lease.dropIfIdle();
    });
    watcher.on('delete', () => {
      // Not by us (revoke disowns first): our lease expired on etcd's side. Renew and claim again.
      if (this.#owned.get(entry.moniker) === owned) this.#lease.expired();
    });
  }

  /** Nothing of ours hangs on the lease: no entry, no place in line, no register under way. */
  #idle(): boolean {
    return this.#owned.size === 0 && this.#inLine.size === 0 && this.#registering === 0;
  }

  /** One pass of claiming every owned name again on a new lease (the lease retries a failed one). */
  async #restoreAll(): Promise<void> {
    for (const [moniker, owned] of [...this.#owned]) {
      if (this.#owned.get(moniker) !== owned) continue;
      if ((await this.#claim(owned.entry, 'create', true)) !== undefined) {
        owned.name.restored(owned.entry);
      } else {
        this.disown(moniker);
        owned.name.lost(alreadyRegistered(moniker, 'was taken by another owner while this one was cut off'));
        void this.#lease.dropIfIdle();
      }
    }
  }

  #decode(kvs: IKeyValue[]): WireEntry[] {
    const entries: WireEntry[] = [];
    for (const kv of kvs) {
      const entry = decodeEntry(kv.key.toString(), kv.value, this.layout);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** `work`, or TABLE_UNAVAILABLE naming the etcd address if it fails or takes too long. */
  #answer<T>(work: Promise<T>, what: string): Promise<T> {
    return answerWithin(work, this.#timeout, this.#settings.address, what);
  }

  #assertOpen(): void {
    if (this.#closing) throw new RuntableError('TABLE_UNAVAILABLE', 'the table is closed');
  }
}

function isMoniker(name: string): boolean {
  try {
    checkMoniker(name);
    return true;
  } catch {
    return false;
  }
}

function alreadyRegistered(moniker: string, how = 'is already registered by another owner'): RuntableError {
  return new RuntableError('ALREADY_REGISTERED', `${moniker} ${how}`);
}
