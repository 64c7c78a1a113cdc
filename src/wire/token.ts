// The table's token: 32 random bytes, as hex, in a 0600 file in the table directory. Every Hello
// carries it, so a process that can reach a socket but cannot read the directory cannot join.
// It never leaves the directory except in a Hello, and no message ever echoes it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RuntableError } from '../errors.js';
import { TOKEN_FILE, unwritableTableDir } from '../transport/paths.js';

export { TOKEN_FILE };
/** Random bytes in a token; the file holds them as lowercase hex. */
export const TOKEN_BYTES = 32;

const TOKEN_PATTERN = new RegExp(`^[0-9a-f]{${TOKEN_BYTES * 2}}$`);

export function tokenPath(dir: string): string {
  return path.join(dir, TOKEN_FILE);
}

/**
 * The token of the table in `dir` (already checked by prepareTableDir), made on first use.
 * Racing first users agree on one token: each writes a private file and links it into place,
 * and link() never replaces a name that exists.
 */
export function tableToken(dir: string): string {
  const file = tokenPath(dir);
  if (!fs.existsSync(file)) create(file);
  return read(file);
}

function create(file: string): void {
  const draft = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.writeFileSync(draft, crypto.randomBytes(TOKEN_BYTES).toString('hex'), { mode: 0o600, flag: 'wx' });
    fs.linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritableTableDir(path.dirname(file), error);
  } finally {
    fs.rmSync(draft, { force: true });
  }
}

function read(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (error) {
    throw new RuntableError('TABLE_UNAVAILABLE', `cannot read the table token ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!stat.isFile()) {
    throw new RuntableError('ACCESS_DENIED', `table token ${file} is not a regular file; remove it`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new RuntableError(
      'ACCESS_DENIED',
      `table token ${file} belongs to uid ${stat.uid}, not to you (uid ${uid}); remove it`,
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new RuntableError(
      'ACCESS_DENIED',
      `table token ${file} is readable by other users (mode ${mode}); remove it and stop the broker (runtable broker stop) so that a new one is made`,
    );
  }
  const token = fs.readFileSync(file, 'utf8');
  if (!TOKEN_PATTERN.test(token)) {
    throw new RuntableError(
      'ACCESS_DENIED',
      `table token ${file} is malformed; remove it and stop the broker (runtable broker stop) so that a new one is made`,
    );
  }
  return token;
}

/** Whether a Hello's token is the table's, compared in constant time. */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  // The length is no secret (every token has the same one); the bytes are.
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
