// Runs the built runtable command as a user would: `node dist/cli/main.js ...` in a subprocess.
// The build happens once per test run, under a lock, since test files run in parallel.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from '../helpers.ts';

export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
/** `runtable demo` plays the compiled examples. */
const DEMO = path.join(ROOT, 'dist', 'examples', 'demo.js');
const LOCK = path.join(ROOT, 'dist', '.cli-test-build.lock');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestSource(file) : fs.statSync(file).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  try {
    const built = Math.min(fs.statSync(CLI).mtimeMs, fs.statSync(DEMO).mtimeMs);
    return built >= Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'examples')));
  } catch {
    return false;
  }
}

/** Compiles src to dist unless dist is already newer than every source file. */
export async function ensureBuilt(): Promise<void> {
  if (isFresh()) return;
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  await waitFor(
    () => {
      try {
        fs.mkdirSync(LOCK);
        return true;
      } catch {
        // A lock older than a build can take was left by a run that died.
        const since = fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
        if (Date.now() - since > 60_000) fs.rmSync(LOCK, { recursive: true, force: true });
        return false;
      }
    },
    60_000,
    'the build lock',
  );
  try {
    if (!isFresh()) {
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
      // tsc emits despite type errors (npm run typecheck reports those); only no output at all stops the tests.
      if (!fs.existsSync(CLI)) throw new Error(`the build made no ${CLI}:\n${build.stdout}${build.stderr}`);
      const examples = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-examples.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (examples.status !== 0) throw new Error(`the examples did not build:\n${examples.stderr}`);
    }
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Runs the command to its end. RUNTABLE_DIR is the test's table unless `env` says otherwise. */
export function runCli(args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = startCli(args, dir, env);
  return child.result;
}

export interface RunningCli {
  child: ReturnType<typeof spawn>;
  /** stdout so far. */
  output(): string;
  /** Resolves once stdout holds `count` lines (or more). */
  lines(count: number, timeoutMs?: number): Promise<string[]>;
  result: Promise<CliResult>;
}

/**
 * Runs `argv` on a pseudo-terminal made by Python's pty module (Node has none of its own), copies
 * what it writes to stdout, passes SIGINT and SIGTERM on to it and exits as it did.
 */
const ON_TERMINAL = `
import os, pty, signal, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda number, frame: os.kill(pid, number))
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    os.write(1, data)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

/**
 * Runs the command with stdout and stderr on a real terminal, as a person sees it; both come
 * back in `stdout`, without the terminal's \r.
 */
export function runCliOnTerminal(args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, dir, env, { terminal: true }).result;
}

/** Starts the command and hands it back running, for watch and for interrupting calls. */
export function startCli(
  args: string[],
  dir: string,
  env: NodeJS.ProcessEnv = {},
  { terminal = false } = {},
): RunningCli {
  const command = [process.execPath, CLI, ...args];
  const child = spawn(
    terminal ? 'python3' : (command[0] as string),
    terminal ? ['-c', ON_TERMINAL, ...command] : command.slice(1),
    {
      cwd: ROOT,
      env: { ...process.env, RUNTABLE_DIR: dir, NO_COLOR: '', RUNTABLE_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += terminal ? chunk.replaceAll('\r\n', '\n') : chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const result = new Promise<CliResult>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  const nonEmpty = () => stdout.split('\n').filter((line) => line !== '');
  return {
    child,
    output: () => stdout,
    async lines(count, timeoutMs = 10_000) {
      await waitFor(
        () => nonEmpty().length >= count,
        timeoutMs,
        `${count} lines from runtable ${args.join(' ')}; got ${stdout}${stderr}`,
      );
      return nonEmpty();
    },
    result,
  };
}
