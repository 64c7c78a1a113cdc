// Loads etcd3, an optional peer dependency: only a table on etcd needs it, and it brings gRPC.
// The specifier is not a literal, so a bundler leaves the import to run time instead of inlining
// gRPC into every app; a missing etcd3 is a TABLE_UNAVAILABLE that says how to install it.

import { RuntableError } from '../../errors.js';

type Etcd3Module = typeof import('etcd3');

/** A variable, not a literal: esbuild and its kin bundle only literal import() specifiers. */
const ETCD3 = 'etcd3';

/** etcd3's exports; Node caches the module, so each table on etcd pays for the load once. */
export async function loadEtcd3(address: string): Promise<Etcd3Module> {
  try {
    return (await import(ETCD3)) as Etcd3Module;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      missing
        ? `the table ${address} needs the etcd3 package, which is not installed: npm install etcd3`
        : `cannot load etcd3 for the table ${address}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
