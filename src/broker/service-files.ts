// Service files: JSON files that name monikers and the command that registers them, read by the
// broker to start a daemon on demand. This module finds, reads and checks them; it never runs
// anything, and a file it refuses (malformed, another user's, writable by others) says why.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RuntableError } from '../errors.js';
import { checkMoniker } from '../naming/moniker.js';

/** How long a started command has to register its moniker, unless its file says otherwise. */
export const DEFAULT_ACTIVATION_TIMEOUT_MS = 20_000;
/** The longest timeout a service file may ask for. */
export const MAX_ACTIVATION_TIMEOUT_MS = 10 * 60_000;
/** A service file larger than this is refused unread: it is a mistake, not a service. */
export const MAX_SERVICE_FILE_BYTES = 64 * 1024;

const FIELDS = new Set(['monikers', 'command', 'cwd', 'env', 'timeout']);

/** A well-formed, safe service file. */
export interface ServiceFile {
  file: string;
  monikers: string[];
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  timeout: number;
}

/** One file of a services directory: a service, or why it is not one. */
export type ServiceRead =
  | { file: string; service: ServiceFile; problem?: never; monikers: string[] }
  | { file: string; service?: never; problem: string; monikers: string[] };

/**
 * The directories service files are read from: RUNTABLE_SERVICES (colon-separated), else
 * $XDG_CONFIG_HOME/runtable/services, else ~/.config/runtable/services.
 */
export function serviceDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = env.RUNTABLE_SERVICES;
  if (listed !== undefined) return listed.split(':').filter((dir) => dir !== '');
  const config = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return [path.join(config, 'runtable', 'services')];
}

/** Every `*.json` file of `dirs`, in directory order then name order; a missing directory has none. */
export function readServices(dirs: readonly string[]): ServiceRead[] {
  const reads: ServiceRead[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((name) => name.endsWith('.json'));
    } catch {
      continue;
    }
    for (const name of names.sort()) reads.push(readServiceFile(path.resolve(dir, name)));
  }
  return reads;
}

/** The first file that names `moniker`: it is the one that runs (later ones are shadowed). */
export function serviceFor(reads: readonly ServiceRead[], moniker: string): ServiceRead | undefined {
  return reads.find((read) => read.monikers.includes(moniker));
}

/** Reads one file; never throws. The ownership and mode are those of the file as opened. */
export function readServiceFile(file: string): ServiceRead {
  let fd: number;
  try {
    // No symlink is followed: the file checked must be the file read.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'is a symbolic link; put the file itself there' : `cannot be read (${code})`;
    return { file, problem: `service file ${file} ${why}`, monikers: [] };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { file, problem: `service file ${file} is not a regular file`, monikers: [] };
    if (stat.size > MAX_SERVICE_FILE_BYTES) {
      return { file, problem: `service file ${file} is over ${MAX_SERVICE_FILE_BYTES} bytes`, monikers: [] };
    }
    const text = fs.readFileSync(fd, 'utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return { file, problem: `service file ${file} is not valid JSON: ${(error as Error).message}`, monikers: [] };
    }
    const monikers = namedMonikers(json);
    const unsafe = unsafeReason(file, stat);
    if (unsafe) return { file, problem: unsafe, monikers };
    try {
      return { file, service: parseService(file, json), monikers };
    } catch (error) {
      return { file, problem: (error as Error).message, monikers };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a file must never run: another user's, or one that group or others may change. */
function unsafeReason(file: string, stat: fs.Stats): string | undefined {
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    return `service file ${file} belongs to uid ${stat.uid}, not to you (uid ${uid}); it is never run`;
  }
  if ((stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    return `service file ${file} is writable by group or others (mode ${mode}); it is never run: run chmod go-w ${file}`;
  }
  return undefined;
}

/** The monikers a file names, even if it is wrong otherwise: so callers can be told why. */
function namedMonikers(json: unknown): string[] {
  const monikers = (json as { monikers?: unknown } | null)?.monikers;
  if (!Array.isArray(monikers)) return [];
  return monikers.filter((moniker): moniker is string => typeof moniker === 'string');
}

function parseService(file: string, json: unknown): ServiceFile {
  const bad = (what: string) => new RuntableError('BAD_ARGUMENT', `service file ${file}: ${what}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('must hold a JSON object');
  const fields = json as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) {
    throw bad(
      `unknown field ${unknown.map((key) => JSON.stringify(key)).join(', ')}; the fields are ${[...FIELDS].join(', ')}`,
    );
  }
  const { monikers, command, cwd, env, timeout } = fields;
  if (!Array.isArray(monikers) || monikers.length === 0) throw bad('"monikers" must be a non-empty array of monikers');
  for (const moniker of monikers) {
    if (typeof moniker !== 'string') throw bad('"monikers" must hold strings');
    try {
      checkMoniker(moniker);
    } catch (error) {
      throw bad(`"monikers": ${(error as Error).message}`);
    }
  }
  if (command === undefined) throw bad('"command" is missing: give the program and its arguments as an array');
  if (!Array.isArray(command) || command.length === 0 || !command.every((arg) => typeof arg === 'string')) {
    throw bad('"command" must be a non-empty array of strings');
  }
  const program = command[0] as string;
  if (program === '') throw bad('"command" starts with an empty program name');
  // A bare name is looked up in PATH; a path is taken as given, so it must not depend on a cwd.
  if (program.includes('/') && !path.isAbsolute(program)) {
    throw bad(
      `"command" starts with the relative path ${program}; give an absolute path (or a bare name found in PATH)`,
    );
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || !path.isAbsolute(cwd))) {
    throw bad('"cwd" must be an absolute path');
  }
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) throw bad('"env" must be an object of strings');
    for (const value of Object.values(env)) {
      if (typeof value !== 'string') throw bad('"env" values must be strings');
    }
  }
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0 || timeout > MAX_ACTIVATION_TIMEOUT_MS)
  ) {
    throw bad(`"timeout" must be a whole number of ms from 1 to ${MAX_ACTIVATION_TIMEOUT_MS}`);
  }
  return {
    file,
    monikers: monikers as string[],
    command: command as string[],
    ...(cwd === undefined ? {} : { cwd: cwd as string }),
    env: (env ?? {}) as Record<string, string>,
    timeout: (timeout as number | undefined) ?? DEFAULT_ACTIVATION_TIMEOUT_MS,
  };
}
