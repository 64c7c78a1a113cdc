// What the runtable command exits with, and how a failure becomes one line on stderr. The codes
// are part of the command's interface: scripts branch on them, so they never change meaning.

import { inspect } from 'node:util';
import { RuntableError } from '../errors.js';
import { UsageError } from '../text/usage.js';
import type { Style } from './output.js';

export const EXIT = {
  OK: 0,
  /** The remote method threw (REMOTE). */
  REMOTE: 1,
  /**
   * A bad command line: unknown command or option, missing argument, JSON that does not parse, a
   * bad moniker, a command or option that needs a local table given one on etcd.
   */
  USAGE: 2,
  /** Nothing to reach: not registered, no such method, or the owner went away mid-call. */
  NOT_FOUND: 3,
  /** A call or a wait took longer than allowed (TIMEOUT). */
  TIMEOUT: 4,
  /** The table cannot be reached: no broker where one is needed, a refused or unusable directory, etcd not answering. */
  UNAVAILABLE: 5,
  /** Any other failure. */
  FAILED: 6,
  /** Interrupted by Ctrl-C while a call was in flight (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

/**
 * Runs `work` with a signal that Ctrl-C (SIGINT) or SIGTERM aborts: a failure once it has is
 * the interruption (INTERRUPTED), not the error the abort caused. The handlers go with it.
 */
export async function untilInterrupted(work: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(interrupt.signal);
  } catch (error) {
    if (interrupt.signal.aborted) return EXIT.INTERRUPTED;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The exit code table as --help and the README show it. */
export const EXIT_CODES_HELP = `Exit codes:
  0    ok (ls and watch also when the table is empty or no broker runs)
  1    the remote method threw an error (REMOTE)
  2    usage: unknown command or option, missing argument, bad JSON, bad moniker,
       broker or services (or ls --all) on a table on etcd
  3    not found: not registered, no such method, or the owner went away (OBJECT_GONE)
  4    timeout (TIMEOUT)
  5    table unavailable: no broker running, directory refused or unusable, etcd
       not answering
  6    any other error
  130  interrupted by Ctrl-C during a call`;

export { UsageError };

/** A failure of the command itself, not of the table: its message is the whole story. */
export class Failure extends Error {
  override name = 'Failure';
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILED) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof Failure) return error.exitCode;
  if (!(error instanceof RuntableError)) return EXIT.FAILED;
  switch (error.code) {
    case 'REMOTE':
      return EXIT.REMOTE;
    case 'BAD_MONIKER':
    case 'BAD_ARGUMENT':
      return EXIT.USAGE;
    case 'NOT_REGISTERED':
    case 'NO_SUCH_METHOD':
    case 'OBJECT_GONE':
      return EXIT.NOT_FOUND;
    case 'TIMEOUT':
      return EXIT.TIMEOUT;
    case 'TABLE_UNAVAILABLE':
    case 'ACCESS_DENIED':
      return EXIT.UNAVAILABLE;
    default:
      return EXIT.FAILED;
  }
}

/**
 * One line saying what went wrong and what to do; with `debug`, the whole error after it
 * (stack, remote stack, causes). A stack trace is never shown otherwise.
 */
export function describeFailure(error: unknown, style: Style, debug: boolean): string {
  let line: string;
  if (error instanceof UsageError) {
    const help = error.command ? `runtable ${error.command} --help` : 'runtable --help';
    line = `${error.message}; see ${help}`;
  } else if (error instanceof Failure) {
    line = error.message;
  } else if (error instanceof RuntableError) {
    const remoteCode = error.remote?.code;
    const suffix = remoteCode === undefined ? '' : ` (code ${String(remoteCode)})`;
    const name = error.remote ? `${error.remote.name}: ` : '';
    line = `${error.code}: ${name}${error.message}${suffix}`;
  } else if (error instanceof Error) {
    line = `unexpected ${error.name}: ${error.message}; run again with --debug for details`;
  } else {
    line = `unexpected failure: ${String(error)}`;
  }
  // One line, whatever the remote side put in its message.
  line = `${style.red('runtable:')} ${line.replace(/\s*\n\s*/g, ' ')}`;
  if (!debug || error instanceof UsageError) return `${line}\n`;
  return `${line}\n${inspect(error, { depth: 8, colors: style.enabled })}\n`;
}
