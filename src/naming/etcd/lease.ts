// The life of this process's etcd lease, which carries its entries and places in line: granted
// on first use, let go once nothing hangs on it, and replaced when lost (etcd away longer than
// its TTL), after which the backend claims every owned name again.

import type { Etcd3, Lease } from 'etcd3';
import { withTimeout } from './timeout.js';

/** Waits between tries to get a lease back while etcd is away; doubles up to the cap. */
const RENEW_FIRST_DELAY_MS = 100;
const RENEW_MAX_DELAY_MS = 2000;
/** How long close() waits for etcd to drop this process's entries. */
export const CLOSE_REVOKE_TIMEOUT_MS = 2000;

/** What the lease needs of the backend whose keys hang on it. */
export interface LeaseHolder {
  /** Nothing of ours hangs on the lease: no entry, no place in line, no register under way. */
  idle(): boolean;
  /** The backend is closing: no new lease, no renewal. */
  closing(): boolean;
  /** Claims every owned name again on the current lease; throws to be tried again after a wait. */
  restoreAll(): Promise<void>;
  /** `work`, or TABLE_UNAVAILABLE naming etcd if it fails or takes too long. */
  answer<T>(work: Promise<T>, what: string): Promise<T>;
  /** Throws TABLE_UNAVAILABLE once the backend is closed. */
  assertOpen(): void;
}

export class EtcdLease {
  readonly #client: Etcd3;
  readonly #ttl: number;
  readonly #holder: LeaseHolder;
  /** The current lease and its id, granted on first use. */
  #lease: { lease: Lease; id: Promise<string> } | undefined;
  /** Every lease id this process was granted: entries under an old one are still ours to take back. */
  readonly #leaseIds = new Set<string>();
  #renewing: Promise<void> | undefined;

  constructor(client: Etcd3, ttl: number, holder: LeaseHolder) {
    this.#client = client;
    this.#ttl = ttl;
    this.#holder = holder;
  }

  /** Whether `id` is a lease this process was granted, the current one or an earlier one. */
  isOurs(id: string): boolean {
    return this.#leaseIds.has(id);
  }

  /** The current lease's id, granted first if there is none. */
  id(): Promise<string> {
    if (!this.#lease) {
      this.#holder.assertOpen();
      const lease = this.#client.lease(this.#ttl, { autoKeepAlive: true });
      const id = lease.grant().then((granted: string | Error) => {
        // etcd3 resolves a failed grant with its error (and emits 'lost') rather than rejecting.
        if (granted instanceof Error) throw granted;
        this.#leaseIds.add(String(granted));
        return String(granted);
      });
      // A failed grant is retried by whoever asks next.
      id.catch(() => {
        if (this.#lease?.lease === lease) this.#lease = undefined;
      });
      lease.on('lost', () => this.#renew(lease));
      this.#lease = { lease, id };
    }
    return this.#holder.answer(this.#lease.id, 'granting a lease');
  }

  /** The current lease's id, without granting one; undefined if there is none or its grant failed. */
  async currentId(): Promise<string | undefined> {
    return this.#lease?.id.catch(() => undefined);
  }

  /** An entry of ours left etcd without our revoking it: the lease expired on etcd's side. */
  expired(): void {
    this.#renew(this.#lease?.lease);
  }

  /** Revokes the current lease, if any, taking every key on it; never waits past CLOSE_REVOKE_TIMEOUT_MS. */
  async revoke(): Promise<void> {
    const lease = this.#lease?.lease;
    this.#lease = undefined;
    if (lease) await withTimeout(lease.revoke(), CLOSE_REVOKE_TIMEOUT_MS).catch(() => {});
  }

  /**
   * Lets the lease go once nothing hangs on it: its keep-alive (a timer and a gRPC stream) would
   * hold the process open after its last revoke (see transport/keep-alive.ts). The next register
   * is granted a new one.
   */
  async dropIfIdle(): Promise<void> {
    const lease = this.#lease?.lease;
    if (!lease || !this.#holder.idle() || this.#holder.closing()) return;
    this.#lease = undefined;
    await withTimeout(lease.revoke(), CLOSE_REVOKE_TIMEOUT_MS).catch(() => {});
  }

  /** The lease is gone (etcd was away longer than its TTL): get a new one and claim every name again. */
  #renew(lost: Lease | undefined): void {
    if (this.#holder.closing() || this.#renewing) return;
    if (lost && this.#lease?.lease === lost) this.#lease = undefined;
    lost?.release();
    this.#renewing = this.#restoreAll().finally(() => {
      this.#renewing = undefined;
    });
  }

  async #restoreAll(): Promise<void> {
    let delay = RENEW_FIRST_DELAY_MS;
    while (!this.#holder.closing()) {
      try {
        await this.#holder.restoreAll();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, RENEW_MAX_DELAY_MS);
      }
    }
  }
}
