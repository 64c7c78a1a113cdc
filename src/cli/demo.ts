// runtable demo: the seed scenario, exactly as `npm run demo` plays it. The example programs are
// TypeScript, so they run through tsx's loader; both live in a checkout of runtable, not in the
// published package.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectArgs } from './args.js';
import type { Command } from './context.js';
import { EXIT, Failure } from './exit.js';
import { note } from './output.js';

export const demo: Command = {
  name: 'demo',
  summary: 'play the seed scenario: three servers, one client, one SIGKILL',
  help: `Usage: runtable demo

Plays the seed scenario, as npm run demo does: three TargetApps register
under SampleServer/, a SourceApp lists them and sends each a message, one
target is killed with SIGKILL and leaves the table at once. It runs on a
private table of its own (--dir is not used) and leaves no process behind.
Needs a checkout of runtable with its dev dependencies (tsx).

Examples:
  runtable demo
  NO_COLOR=1 runtable demo`,
  options: {},

  async run(context) {
    expectArgs(context.positionals, [], 'demo');
    const here = fileURLToPath(import.meta.url);
    const root = path.resolve(path.dirname(here), '..', '..');
    const script = path.join(root, 'examples', 'demo.ts');
    if (!fs.existsSync(script)) {
      throw new Failure(`the demo's programs are not here (${script}); run runtable demo from a checkout of runtable`);
    }
    const child = spawn(process.execPath, [...loaderArgs(here), script], { cwd: root, stdio: 'inherit' });
    // Ctrl-C reaches the demo through the terminal too; it cleans up after itself and exits.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    try {
      const [code, signal] = (await new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (...result) => resolve(result));
      })) as [number | null, NodeJS.Signals | null];
      if (signal) {
        note(`runtable: the demo ended by ${signal}`);
        return EXIT.INTERRUPTED;
      }
      return code ?? EXIT.FAILED;
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  },
};

/** Node options that run TypeScript: this process's own when it runs from src, else tsx's loader. */
function loaderArgs(self: string): string[] {
  if (self.endsWith('.ts')) return process.execArgv;
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    throw new Failure(
      'the demo runs TypeScript examples and needs tsx; install it (npm install --save-dev tsx) or run npm run demo',
    );
  }
  return ['--import', tsx];
}
