// The client side's pool of connections to owner endpoints: one per owner endpoint, shared by
// every proxy of every object that owner serves, with calls multiplexed by id.

import { RuntableError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../transport/framing.js';
import type { Transport } from '../transport/transport.js';
import { Connection } from '../wire/connection.js';
import { CallSession } from './session.js';
import type { CallSettings } from './settings.js';

/** Errors of a connect that mean nothing listens there any more. */
const GONE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

export class Peers {
  readonly #pool = new Map<string, Promise<CallSession>>();
  readonly #options: CallSettings;

  constructor(options: CallSettings) {
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
      transport = await this.#options.network.dial(endpoint, {
        maxFrameBytes: MAX_FRAME_BYTES,
        timeout: this.#options.timeout,
        // Calls in flight and subscriptions hold the process, not the connection (keep-alive.ts).
        holdsProcess: false,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Across machines, an address that never answers is a machine gone; on one, a timeout is a timeout.
      const silent = code === 'TIMEOUT' && endpoint.startsWith('tcp://');
      if ((code !== undefined && GONE_CODES.has(code)) || silent) {
        throw new RuntableError('OBJECT_GONE', `owner ${pid} is gone (its endpoint ${endpoint} does not answer)`, {
          cause: error,
        });
      }
      if (code === 'EACCES' || code === 'EPERM' || code === 'EBADADDRESS' || isTlsRefusal(error)) {
        throw new RuntableError(
          'ACCESS_DENIED',
          `cannot connect to owner ${pid} at ${endpoint}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    let session: CallSession | undefined;
    await Connection.connect(
      transport,
      {
        goneCode: 'OBJECT_GONE',
        peerName: `owner ${pid}`,
        timeout: this.#options.timeout,
        token: this.#options.token,
        limits: this.#options.limits,
      },
      (connection) => {
        session = new CallSession(connection, { debug: this.#options.debug });
        return session.handlers;
      },
    );
    return session as CallSession;
  }
}

/** The owner, or this side, refused the other's certificate. */
function isTlsRefusal(error: unknown): boolean {
  return /SSL|TLS|CERT|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|HOSTNAME/.test(
    String((error as NodeJS.ErrnoException).code ?? ''),
  );
}
