// Service files for the activation tests: each test writes its own into a directory of its own,
// which the broker it starts reads through RUNTABLE_SERVICES.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NODE_TS, ROOT } from '../helpers.ts';

/** A fresh services directory and a file that counts the fixture's starts; removed by `remove`. */
export function servicesDir(): { dir: string; starts: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-svc-'));
  return {
    dir,
    starts: path.join(dir, 'starts.txt'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The command that runs test/fixtures/activated.ts with these arguments, from any cwd. */
export function activatedCommand(args: string[]): string[] {
  const node = NODE_TS.map((arg) => (arg === 'tsx' ? import.meta.resolve('tsx') : arg));
  return [process.execPath, ...node, path.join(ROOT, 'test', 'fixtures', 'activated.ts'), ...args];
}

/** Writes `<name>.json` into `dir` (mode 0600 unless told otherwise); returns its path. */
export function writeService(dir: string, name: string, content: unknown, mode = 0o600): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2), { mode });
  fs.chmodSync(file, mode);
  return file;
}

/** The pids the fixture noted at each start. */
export function startsOf(file: string): number[] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export { ROOT };
