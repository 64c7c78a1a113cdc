// The client side's pool of connections to owner endpoints: one per owner endpoint, shared by
// every proxy of every object that owner serves, with calls multiplexed by id.

import { RuntableError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { connectUnix } from '../transport/unix.js';
import { Connection } from '../wire/connection.js';
import { MAX_FRAME_BYTES } from '../wire/framing.js';
import { CallSession } from './session.js';

export interface PeerOptions {
  timeout: number;
  debug: boolean;
  /** The table's token, sent in every Hello to an owner. */
  token: string;
  maxMessageBytes?: number;
  maxPendingBytes?: number;
}

export class Peers {
  readonly #pool = new Map<string, Promise<CallSession>>();
  readonly #options: PeerOptions;

  constructor(options: PeerOptions) {
    this.#options = options;
  }

  connect(endpoint: string, pid: number): Promise<CallSession> {
    const pooled = this.#pool.get(endpoint);
    if (pooled) return pooled;
    const opening = this.#open(endpoint, pid);
    this.#pool.set(endpoint, opening);
    const forget = () => {
      if (this.#pool.get(endpoint) === opening) this.#pool.delete(endpoint);
    };
    opening.then((session) => {
      void session.connection.whenClosed.then(forget);
    }, forget);
    return opening;
  }

  close(): void {
    for (const session of this.#pool.values())
      session.then(
        (s) => s.connection.close(),
        () => {},
      );
    this.#pool.clear();
  }

  async #open(endpoint: string, pid: number): Promise<CallSession> {
    let transport: Transport;
    try {
      transport = await connectUnix(endpoint, { maxFrameBytes: MAX_FRAME_BYTES, timeout: this.#options.timeout });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') {
        throw new RuntableError('OBJECT_GONE', `owner ${pid} is gone (its endpoint ${endpoint} does not answer)`, {
          cause: error,
        });
      }
      if (code === 'EACCES' || code === 'EPERM') {
        throw new RuntableError('ACCESS_DENIED', `cannot connect to owner ${pid} at ${endpoint}: permission denied`, {
          cause: error,
        });
      }
      throw error;
    }
    const connection = await Connection.connect(transport, {
      goneCode: 'OBJECT_GONE',
      peerName: `owner ${pid}`,
      timeout: this.#options.timeout,
      token: this.#options.token,
      ...(this.#options.maxMessageBytes ? { maxMessageBytes: this.#options.maxMessageBytes } : {}),
      ...(this.#options.maxPendingBytes ? { maxPendingBytes: this.#options.maxPendingBytes } : {}),
    });
    return new CallSession(connection, { debug: this.#options.debug });
  }
}
