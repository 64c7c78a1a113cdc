// What every command runs with (the table directory, styles, debug) and the one way a command
// reaches the table. A command that reads never starts a broker, nor creates a table directory
// that is not there; `broker start`, `wait` and a `call` of an activatable moniker may.

import fs from 'node:fs';
import { readServices, serviceDirs, serviceFor } from '../broker/service-files.js';
import { RuntableError } from '../errors.js';
import { connect, type Table } from '../index.js';
import { brokerSocketPath, resolveTableDir } from '../transport/paths.js';
import type { OptionSpecs, Values } from './args.js';
import { type Style, styleFor } from './output.js';

export interface Context {
  /** The table directory, resolved: --dir, else RUNTABLE_DIR, else the default. */
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
  /** Resolves with the exit code; throws for a failure (see exit.ts). */
  run(context: Context): Promise<number>;
}

export function makeContext(values: Values, positionals: string[]): Context {
  return {
    dir: resolveTableDir(typeof values.dir === 'string' ? values.dir : undefined),
    debug: values.debug === true || Boolean(process.env.RUNTABLE_DEBUG),
    json: values.json === true || !process.stdout.isTTY,
    out: styleFor(process.stdout),
    err: styleFor(process.stderr),
    values,
    positionals,
  };
}

/** Connects to the running broker of the table; undefined if none runs. */
export async function openTable(context: Context, timeout?: number): Promise<Table | undefined> {
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
  return connect({ dir: context.dir, debug: context.debug, ...(timeout === undefined ? {} : { timeout }) });
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
