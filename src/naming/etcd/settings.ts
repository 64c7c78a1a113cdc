// What a table on etcd is configured by: the etcd address, the key prefix, the lease TTL, and
// how owners listen and authenticate on TCP. Options win over environment variables; a missing
// authentication is an error, never a silent open port.

import fs from 'node:fs';
import { RuntableError } from '../../errors.js';
import type { TcpListenOptions, TlsFiles } from '../../transport/tcp.js';

/** Seconds an owner's lease lives without a keep-alive: how long a dead owner's entries stay. */
export const DEFAULT_LEASE_TTL_S = 5;
export const DEFAULT_ETCD_PREFIX = 'runtable';
/** The shortest shared secret accepted: guessing it must be out of reach. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The options of `connect()` for a table held by etcd (see docs/DISTRIBUTED.md); they need the
 * optional peer `etcd3` (`npm install etcd3`).
 */
export interface DistributedOptions {
  /**
   * "etcd://host:2379,host2:2379" (plain gRPC) or "etcds://..." (etcd's own TLS, with `tls`).
   * Default `RUNTABLE_TABLE`; unset, the table is the local one.
   */
  table?: string;
  /**
   * Keys live under this prefix; tables on one etcd with different prefixes never meet.
   * Default `RUNTABLE_ETCD_PREFIX`, else "runtable".
   */
  prefix?: string;
  /** Seconds; how long a dead owner's entries outlive it. Default `RUNTABLE_LEASE_TTL`, else 5. */
  leaseTtl?: number;
  /** Where this process's endpoint listens; RUNTABLE_LISTEN="host:port", default 0.0.0.0:0. */
  listen?: { host?: string; port?: number; advertise?: string };
  /** Mutual TLS on calls (PEM contents); else RUNTABLE_TLS_CA, _CERT and _KEY name the files. */
  tls?: TlsFiles;
  /** A shared secret every Hello must carry; else RUNTABLE_SECRET. */
  secret?: string;
}

export interface EtcdSettings {
  /** The table option as given, for messages. */
  address: string;
  hosts: string[];
  secure: boolean;
  prefix: string;
  leaseTtl: number;
  listen: TcpListenOptions;
  tls: TlsFiles | undefined;
  /** What every Hello carries and requires. */
  token: string;
}

/** The hosts of "etcd://h:p,h2:p2"; TABLE_UNAVAILABLE, naming the address, for anything else. */
export function parseEtcdAddress(address: string): { hosts: string[]; secure: boolean } {
  const match = /^(etcds?):\/\/([^/?#]+)\/?$/.exec(address.trim());
  const hosts = match?.[2]?.split(',').map((host) => host.trim()) ?? [];
  const valid = hosts.length > 0 && hosts.every((host) => /^(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/.test(host));
  if (!match || !valid) {
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      `table address ${JSON.stringify(address)} is not etcd://host:port[,host:port...]`,
    );
  }
  const secure = match[1] === 'etcds';
  return { hosts: hosts.map((host) => `${secure ? 'https' : 'http'}://${host}`), secure };
}

export function etcdSettings(address: string, options: DistributedOptions): EtcdSettings {
  const { hosts, secure } = parseEtcdAddress(address);
  const env = process.env;
  const leaseTtl = options.leaseTtl ?? (env.RUNTABLE_LEASE_TTL ? Number(env.RUNTABLE_LEASE_TTL) : DEFAULT_LEASE_TTL_S);
  if (!Number.isInteger(leaseTtl) || leaseTtl < 1) {
    throw new RuntableError('BAD_ARGUMENT', `leaseTtl must be a whole number of seconds, at least 1 (got ${leaseTtl})`);
  }
  const tls = options.tls ?? tlsFromEnv();
  const secret = options.secret ?? env.RUNTABLE_SECRET;
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new RuntableError('BAD_ARGUMENT', `the shared secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (!tls && !secret) {
    throw new RuntableError(
      'BAD_ARGUMENT',
      'a table on etcd takes calls over the network: give tls ({ ca, cert, key }) or a secret (RUNTABLE_TLS_CA/_CERT/_KEY or RUNTABLE_SECRET); see docs/DISTRIBUTED.md',
    );
  }
  if (secure && !tls) throw new RuntableError('BAD_ARGUMENT', 'etcds:// needs tls ({ ca, cert, key }) to reach etcd');
  return {
    address,
    hosts,
    secure,
    prefix: options.prefix ?? env.RUNTABLE_ETCD_PREFIX ?? DEFAULT_ETCD_PREFIX,
    leaseTtl,
    listen: { ...listenFromEnv(env.RUNTABLE_LISTEN), ...definedOnly(options.listen ?? {}) },
    tls,
    // With TLS alone, certificates authenticate and the Hello token is a constant both sides know.
    token: secret ?? 'mutual-tls',
  };
}

function listenFromEnv(value: string | undefined): TcpListenOptions {
  if (!value) return { host: '0.0.0.0', port: 0 };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  if (!match) throw new RuntableError('BAD_ARGUMENT', `RUNTABLE_LISTEN=${value} is not host:port`);
  return { host: (match[1] ?? match[2]) as string, port: Number(match[3]) };
}

function tlsFromEnv(): TlsFiles | undefined {
  const { RUNTABLE_TLS_CA: ca, RUNTABLE_TLS_CERT: cert, RUNTABLE_TLS_KEY: key } = process.env;
  if (!ca && !cert && !key) return undefined;
  if (!ca || !cert || !key) {
    throw new RuntableError('BAD_ARGUMENT', 'RUNTABLE_TLS_CA, RUNTABLE_TLS_CERT and RUNTABLE_TLS_KEY go together');
  }
  const read = (file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new RuntableError('BAD_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  return { ca: read(ca), cert: read(cert), key: read(key) };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
