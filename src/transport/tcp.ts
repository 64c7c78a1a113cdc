// Transport over TCP, with TLS when the table is set up for it: how an owner's endpoint takes
// calls from other machines. Frames, batching and backpressure are the Unix socket transport's
// own (wrapSocket); this file only opens and accepts sockets. It never decodes.

import net from 'node:net';
import tls from 'node:tls';
import { RuntableError } from '../errors.js';
import { guardTimer } from './keep-alive.js';
import type { Listener, Transport, TransportOptions } from './transport.js';
import { wrapSocket } from './unix.js';

/** The scheme of endpoint addresses on TCP; the same with or without TLS. */
export const TCP_SCHEME = 'tcp://';
/** How long a TLS handshake may take before the socket is dropped. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

const PEER = Symbol('peer address');

/** Mutual TLS: every side presents a certificate signed by `ca` and checks the other's. */
export interface TlsFiles {
  /** PEM of the certificate authority that signs every owner's and client's certificate. */
  ca: string | Buffer;
  /** PEM of this process's certificate. */
  cert: string | Buffer;
  /** PEM of this process's private key. */
  key: string | Buffer;
}

export interface TcpListenOptions {
  /** Address to listen on; also the host written in the endpoint address unless `advertise`. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Host name or address other machines reach this one by, when it differs from `host`. */
  advertise?: string;
  tls?: TlsFiles;
  /** Told of every connection refused during the TLS handshake (wrong or missing certificate). */
  onRefused?: (reason: string) => void;
}

/** "tcp://host:port" for a host name, IPv4 or IPv6 address. */
export function tcpAddress(host: string, port: number): string {
  return `${TCP_SCHEME}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The host and port of a "tcp://host:port" address; BAD_ARGUMENT for anything else. */
export function parseTcpAddress(address: string): { host: string; port: number } {
  const match = /^tcp:\/\/(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !(port > 0 && port < 65536)) {
    throw new RuntableError('BAD_ARGUMENT', `endpoint address ${JSON.stringify(address)} is not tcp://host:port`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export async function listenTcp(
  options: TcpListenOptions,
  onConnection: (transport: Transport) => void,
  transportOptions: TransportOptions,
): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const accept = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onConnection(wrapSocket(socket, transportOptions));
  };
  let server: net.Server;
  if (options.tls) {
    server = tls.createServer(
      {
        ...options.tls,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      },
      accept,
    );
    // A refused handshake tears the sockets down before it is reported: note who it was first.
    server.on('connection', (raw: net.Socket & { [PEER]?: string }) => {
      raw[PEER] = raw.remoteAddress ?? '';
    });
    server.on('tlsClientError', (error, socket) => {
      const peer = socket.remoteAddress ?? (socket as { _parent?: { [PEER]?: string } })._parent?.[PEER];
      const reason = `refused a TLS connection from ${peer || 'an unknown peer'}: ${error.message} (a certificate not signed by this table's CA?)`;
      (options.onRefused ?? warn)(reason);
    });
  } else {
    server = net.createServer(accept);
  }
  if (transportOptions.holdsProcess === false) server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: tcpAddress(options.advertise ?? options.host, port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export interface TcpConnectOptions extends TransportOptions {
  /** ms before an address that does not answer counts as gone. */
  timeout: number;
  tls?: TlsFiles;
  /** The address to connect from: the one this process listens on, so peers see one address per process. */
  localAddress?: string;
}

/**
 * Connects to "tcp://host:port". Errors keep their Node code (ECONNREFUSED, a TLS alert...) for
 * the caller to judge, except a connection that takes too long: TIMEOUT.
 */
export function connectTcp(address: string, options: TcpConnectOptions): Promise<Transport> {
  const { host, port } = parseTcpAddress(address);
  return new Promise((resolve, reject) => {
    const from = options.localAddress ? { localAddress: options.localAddress } : {};
    const socket = options.tls
      ? tls.connect({ host, port, ...from, ...options.tls, ...(net.isIP(host) ? {} : { servername: host }) })
      : net.createConnection({ host, port, ...from });
    const timer = guardTimer(options.timeout, () => {
      socket.destroy();
      reject(new RuntableError('TIMEOUT', `connecting to ${address} took longer than ${options.timeout} ms`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(wrapSocket(socket, options));
    });
  });
}

function warn(reason: string): void {
  process.emitWarning(reason, 'RuntableWarning');
}
