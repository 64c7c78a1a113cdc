// The command line, read with node:util parseArgs: the command word first found among the
// options, then that command's options (each also takes the global ones) in any order.

import { parseArgs } from 'node:util';
import { UsageError } from './exit.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type Values = Record<string, string | boolean | undefined>;

/** Taken by every command, before or after the command word. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  table: { type: 'string' },
  dir: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Only without a command. */
export const TOP_OPTIONS: OptionSpecs = { ...GLOBAL_OPTIONS, version: { type: 'boolean', short: 'v' } };

/** Marks a negative number so that parseArgs takes it for an argument, not an option. */
const NEGATIVE = '\u0000';

/** The command word and everything else, in order. */
export function splitCommand(argv: string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') break;
    if (token.startsWith('-') && !isNegativeNumber(token)) {
      // A string option written apart from its value takes the next word with it.
      const name = token.replace(/^-+/, '');
      if (!token.includes('=') && TOP_OPTIONS[name]?.type === 'string') i++;
      continue;
    }
    return { command: token, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: argv };
}

/** Parses `args` against `options`; a mistake becomes a UsageError that names the option. */
export function parseCommandLine(
  args: string[],
  options: OptionSpecs,
  command?: string,
): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args: args.map((arg) => (isNegativeNumber(arg) ? NEGATIVE + arg : arg)),
      options,
      allowPositionals: true,
      strict: true,
    });
    const values: Values = {};
    for (const [name, value] of Object.entries(parsed.values)) {
      values[name] = typeof value === 'string' ? unmark(value) : (value as boolean | undefined);
    }
    return { values, positionals: parsed.positionals.map(unmark) };
  } catch (error) {
    throw usageFromParseArgs(error, command);
  }
}

function isNegativeNumber(token: string): boolean {
  return /^-\.?\d/.test(token);
}

function unmark(text: string): string {
  return text.startsWith(NEGATIVE) ? text.slice(1) : text;
}

function usageFromParseArgs(error: unknown, command: string | undefined): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message;
  const option = /'(-[^' ]+)/.exec(message)?.[1] ?? 'an option';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${option}`, command);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(
        message.includes('does not take') ? `option ${option} takes no value` : `option ${option} needs a value`,
        command,
      );
    default:
      return new UsageError(message.split('.')[0] ?? message, command);
  }
}

/** A whole number of milliseconds greater than zero, or undefined when the option is absent. */
export function msOption(values: Values, name: string, command: string): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(ms) || ms <= 0) {
    throw new UsageError(`--${name} must be a whole number of milliseconds above 0, not "${String(text)}"`, command);
  }
  return ms;
}

/** Exactly `min` to `max` positional arguments, or a usage error naming what is missing or extra. */
export function expectArgs(positionals: string[], names: string[], command: string, max = names.length): void {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(' and ')}`, command);
  }
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument "${positionals[max]}"`, command);
  }
}
