// Where owners listen and how clients reach them, as one choice: Unix sockets in the table
// directory for a table on this machine, TCP (with TLS) for a table spread over machines. The
// call machinery gets a Network and never asks which one it is.

import net from 'node:net';
import { endpointSocketPath, unwritableTableDir } from './paths.js';
import { connectTcp, listenTcp, TCP_SCHEME, type TcpListenOptions, type TlsFiles } from './tcp.js';
import type { Listener, Transport, TransportOptions } from './transport.js';
import { connectUnix, listenUnix } from './unix.js';

export interface Network {
  /** Opens an owner's endpoint; its address is what entries carry. */
  listen(onConnection: (transport: Transport) => void, options: TransportOptions): Promise<Listener>;
  /** Reaches an endpoint by the address an entry carries. */
  dial(address: string, options: TransportOptions & { timeout: number }): Promise<Transport>;
}

export function unixNetwork(dir: string): Network {
  return {
    listen: (onConnection, options) =>
      // The socket lives in the table directory: a full or unwritable one is named, with its fix.
      listenUnix(endpointSocketPath(dir), onConnection, options).catch((error: unknown) => {
        throw unwritableTableDir(dir, error);
      }),
    dial: (address, options) => {
      // An entry pointing at TCP in a local table is not ours: refuse rather than leave the machine.
      if (address.startsWith(TCP_SCHEME)) return Promise.reject(notOnThisNetwork(address, 'a Unix socket path'));
      return connectUnix(address, options);
    },
  };
}

export function tcpNetwork(listen: TcpListenOptions, tls?: TlsFiles): Network {
  // Bound to a specific address, a process also calls from it (on a machine with several).
  const from = net.isIP(listen.host) && !isUnspecified(listen.host) ? { localAddress: listen.host } : {};
  return {
    listen: (onConnection, options) => listenTcp({ ...listen, ...(tls ? { tls } : {}) }, onConnection, options),
    dial: (address, options) => {
      // Nor may an entry from across the network point at a socket file on this machine.
      if (!address.startsWith(TCP_SCHEME)) return Promise.reject(notOnThisNetwork(address, 'tcp://host:port'));
      return connectTcp(address, { ...options, ...(tls ? { tls } : {}), ...from });
    },
  };
}

function notOnThisNetwork(address: string, expected: string): Error {
  return Object.assign(new Error(`endpoint address ${JSON.stringify(address)} is not ${expected}`), {
    code: 'EBADADDRESS',
  });
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
