// What every command runs with (which table, styles, debug) and the one way a command reaches
// the table, local or on etcd. A command that reads never starts a broker, nor creates a table
// directory that is not there; `broker start`, `wait` and a `call` of an activatable moniker may.

import fs from 'node:fs';
import { readServices, serviceDirs, serviceFor } from '../broker/service-files.js';
import { RuntableError } from '../errors.js';
import { connect, type Table } from '../index.js';
import { parseEtcdAddress } from '../naming/etcd/settings.js';
import { brokerSocketPath, resolveTableDir } from '../transport/paths.js';
import type { OptionSpecs, Values } from './args.js';
import { UsageError } from './exit.js';
import { type Style, styleFor } from './output.js';

/** A table held by etcd, and what named it (for messages that say how to pick another). */
export interface EtcdTable {
  address: string;
  from: '--table' | 'RUNTABLE_TABLE';
}

export interface Context {
  /**
   * The table on etcd: --table, else RUNTABLE_TABLE unless --dir is given. Undefined for the
   * local table in `dir`.
   */
  etcd: EtcdTable | undefined;
  /** The local table directory, resolved: --dir, else RUNTABLE_DIR, else the default. */
  dir: string;
  debug: boolean;
  /** Results as JSON: asked for with --json, or stdout is not a terminal (a pipe, a file). */
  json: boolean;
  /** Styles for stdout and stderr, each coloured only if that stream is a terminal. */
  out: Style;
  err: Style;
  values: Values;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for runtable --help. */
  summary: string;
  /** The whole of runtable <name> --help. */
  help: string;
  /** Options of this command beyond the global ones. */
  options: OptionSpecs;
  /**
   * Set for a command that only a local table's broker can answer, saying why ("a table on etcd
   * has no broker"): on a table on etcd it is refused before it runs, exit 2.
   */
  localOnly?: string;
  /** Resolves with the exit code; throws for a failure (see exit.ts). */
  run(context: Context): Promise<number>;
}

export function makeContext(values: Values, positionals: string[], command?: string): Context {
  return {
    etcd: chooseEtcd(values, command),
    dir: resolveTableDir(typeof values.dir === 'string' ? values.dir : undefined),
    debug: values.debug === true || Boolean(process.env.RUNTABLE_DEBUG),
    json: values.json === true || !process.stdout.isTTY,
    out: styleFor(process.stdout),
    err: styleFor(process.stderr),
    values,
    positionals,
  };
}

/**
 * --table beats RUNTABLE_TABLE beats the local table; --dir on the command line beats
 * RUNTABLE_TABLE in the environment. The choice holds for the whole process: picking the local
 * table drops RUNTABLE_TABLE from its environment, so a broker or service it starts joins the
 * same table, and connect() does not read it behind the command's back.
 */
function chooseEtcd(values: Values, command: string | undefined): EtcdTable | undefined {
  const option = values.table;
  if (typeof option === 'string') {
    if (values.dir !== undefined) {
      throw new UsageError('--table and --dir name two different tables; give one of them', command);
    }
    return { address: checkedAddress(option, '--table', command), from: '--table' };
  }
  const env = process.env.RUNTABLE_TABLE;
  if (env && values.dir === undefined) {
    return { address: checkedAddress(env, 'RUNTABLE_TABLE', command), from: 'RUNTABLE_TABLE' };
  }
  delete process.env.RUNTABLE_TABLE;
  return undefined;
}

function checkedAddress(address: string, from: string, command: string | undefined): string {
  try {
    parseEtcdAddress(address);
  } catch {
    throw new UsageError(`${from} must be etcd://host:port[,host:port...] (or etcds://), not "${address}"`, command);
  }
  return address;
}

/** The table as messages name it: its directory, or its etcd address. */
export function tableName(context: Context): string {
  return context.etcd?.address ?? context.dir;
}

/** The refusal of `what` (a command, an option) on a table on etcd, saying `why`: see Command.localOnly. */
export function notOnEtcd(context: Context, what: string, why: string, command: string): UsageError {
  const etcd = context.etcd as EtcdTable;
  const undo = etcd.from === '--table' ? 'drop --table' : 'unset RUNTABLE_TABLE or give --dir';
  return new UsageError(
    `${what} works only on a local table (${why}), and ${etcd.address} (from ${etcd.from}) is a table on etcd; ${undo} for the local table`,
    command,
  );
}

/**
 * Connects to the table: on etcd, always (TABLE_UNAVAILABLE if etcd does not answer, since an
 * etcd that is down is not an empty table); locally, to its running broker, undefined if none runs.
 */
export async function openTable(context: Context, timeout?: number): Promise<Table | undefined> {
  if (context.etcd) return openEtcd(context.etcd, context, timeout);
  // A table that was never made has no broker; looking must not create it.
  if (!fs.existsSync(context.dir)) return undefined;
  try {
    return await connect({
      dir: context.dir,
      autoStart: false,
      debug: context.debug,
      ...(timeout === undefined ? {} : { timeout }),
    });
  } catch (error) {
    if (isNoBroker(error, context.dir)) return undefined;
    throw error;
  }
}

/**
 * Connects, starting a broker if none runs: for `wait`, which needs one to hear of the name, and
 * for `call` of a moniker a service file names, whose broker will start the service.
 */
export async function openOrStartTable(context: Context, timeout?: number): Promise<Table> {
  if (context.etcd) return openEtcd(context.etcd, context, timeout);
  return connect({ dir: context.dir, debug: context.debug, ...(timeout === undefined ? {} : { timeout }) });
}

/** The rest of the settings (prefix, secret or TLS, lease) come from the environment, as for any process. */
function openEtcd(etcd: EtcdTable, context: Context, timeout: number | undefined): Promise<Table> {
  return connect({ table: etcd.address, debug: context.debug, ...(timeout === undefined ? {} : { timeout }) });
}

/** Whether a service file, as this process would have its broker read them, names `moniker`. */
export function activatable(moniker: string): boolean {
  return serviceFor(readServices(serviceDirs()), moniker) !== undefined;
}

/**
 * The library has one code, TABLE_UNAVAILABLE, for "no broker runs" and for real failures (a path
 * too long, a directory that is a file): only the first means an empty table.
 */
function isNoBroker(error: unknown, dir: string): boolean {
  if (!(error instanceof RuntableError) || error.code !== 'TABLE_UNAVAILABLE') return false;
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return false;
  if (/no broker/i.test(error.message)) return true;
  return !fs.existsSync(brokerSocketPath(dir)) && !/socket path/i.test(error.message);
}

export function noBrokerText(dir: string): string {
  return `no broker running for table ${dir}`;
}
