// Two real transports joined by a socket of one kind (Unix, TCP, TLS), for the tests of what
// travels between them. The caller closes the listener (and the transports) when done.

import path from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import type { Listener, Transport } from '../../src/transport/transport.ts';
import { connectUnix, listenUnix } from '../../src/transport/unix.ts';
import { cleanup, tempTableDir } from '../helpers.ts';
import type { Pem } from '../tls-certs.ts';

export type SocketKind = 'unix' | 'tcp' | 'tls';

export interface SocketPair {
  /** The connecting side. */
  client: Transport;
  /** The accepted side. */
  server: Transport;
  listener: Listener;
}

/** A pair over `kind`; a Unix socket is made in `dir`, TLS needs `pem`. */
export async function openSocketPair(
  kind: SocketKind,
  dir: string,
  maxFrameBytes: number,
  pem?: Pem,
): Promise<SocketPair> {
  let accepted: (transport: Transport) => void = () => {};
  const acceptedOne = new Promise<Transport>((resolve) => {
    accepted = resolve;
  });
  const options = { maxFrameBytes };
  if (kind === 'unix') {
    const socketPath = path.join(dir, 'pair.sock');
    const listener = await listenUnix(socketPath, (t) => accepted(t), options);
    const client = await connectUnix(socketPath, { ...options, timeout: 5000 });
    return { client, server: await acceptedOne, listener };
  }
  const tls = kind === 'tls' ? pem : undefined;
  if (kind === 'tls' && tls === undefined) throw new Error('a TLS pair needs certificates');
  const listener = await listenTcp(
    { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) },
    (t) => accepted(t),
    options,
  );
  const client = await connectTcp(listener.address, { ...options, timeout: 5000, ...(tls ? { tls } : {}) });
  return { client, server: await acceptedOne, listener };
}

/**
 * Socket pairs for the tests of one file (node:test hooks): each test gets its own table
 * directory, and after it the listener it opened is closed and the directory removed. One pair
 * at a time: close the listener before opening another in the same test.
 */
export function socketPairsPerTest(maxFrameBytes: number, pem?: () => Pem) {
  let dir = '';
  let listener: Listener | undefined;
  const closeListener = async (): Promise<void> => {
    await listener?.close();
    listener = undefined;
  };
  beforeEach(() => {
    dir = tempTableDir();
  });
  afterEach(async () => {
    await closeListener();
    await cleanup(dir);
  });
  const open = async (kind: SocketKind): Promise<[Transport, Transport]> => {
    const pair = await openSocketPair(kind, dir, maxFrameBytes, pem?.());
    listener = pair.listener;
    return [pair.client, pair.server];
  };
  return { open, closeListener };
}
