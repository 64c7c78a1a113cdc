// How this process's calls behave, as one object: built once in connect() and given to both
// the client side (peers.ts) and the owner side (endpoint.ts), so that no option is read twice
// or defaulted in two places.

import type { Network } from '../transport/network.js';
import type { Limits } from '../wire/limits.js';

export interface CallSettings {
  /**
   * Default timeout of a call, and of what an owner asks of its callers (their callbacks), ms.
   * connect()'s `timeout`, default 30 s (DEFAULT_TIMEOUT_MS in connect.ts): a call to an owner
   * that hangs must fail in the caller at some point, and the caller may always set its own.
   */
  readonly timeout: number;
  /**
   * Remote stacks: asked for in every call, and sent in every failure even unasked. connect()'s
   * `debug`, default whether RUNTABLE_DEBUG is set: stacks tell another process about this one's
   * code, so they stay home unless someone debugging asks.
   */
  readonly debug: boolean;
  /** The table's token (wire/token.ts), sent in every Hello and required in every Hello taken. */
  readonly token: string;
  /** How endpoints listen and are reached: Unix sockets in the table directory, or TCP (with TLS). */
  readonly network: Network;
  /** What each call connection may take and leave queued (wire/limits.ts). */
  readonly limits: Limits;
}
