// The client side's pool of connections to owner endpoints: one per owner endpoint, shared by
// every proxy of every object that owner serves, with calls multiplexed by id.

import { RuntableError } from '../errors.js';
import { connectUnix } from '../transport/unix.js';
import { Connection } from '../wire/connection.js';
import { MAX_CALL_FRAME_BYTES } from './endpoint.js';

export class Peers {
  readonly #pool = new Map<string, Promise<Connection>>();
  readonly #timeout: number;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  connect(endpoint: string, pid: number): Promise<Connection> {
    const pooled = this.#pool.get(endpoint);
    if (pooled) return pooled;
    const forget = () => {
      if (this.#pool.get(endpoint) === opening) this.#pool.delete(endpoint);
    };
    const opening = this.#open(endpoint, pid).then((connection) => {
      connection.onClose = forget;
      if (connection.closed) forget();
      return connection;
    });
    opening.catch(forget);
    this.#pool.set(endpoint, opening);
    return opening;
  }

  close(): void {
    for (const connection of this.#pool.values())
      connection.then(
        (c) => c.close(),
        () => {},
      );
    this.#pool.clear();
  }

  async #open(endpoint: string, pid: number): Promise<Connection> {
    let transport: Awaited<ReturnType<typeof connectUnix>>;
    try {
      transport = await connectUnix(endpoint, { maxFrameBytes: MAX_CALL_FRAME_BYTES, timeout: this.#timeout });
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
    return Connection.connect(transport, { goneCode: 'OBJECT_GONE', peerName: `owner ${pid}`, timeout: this.#timeout });
  }
}
