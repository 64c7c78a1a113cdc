// runtable demo: the example scenario, exactly as `npm run demo` plays it. The package carries the
// example programs compiled (dist/examples, by scripts/build-examples.mjs), so plain node runs
// them; from the sources, the TypeScript examples run under this process's own loader (tsx).

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
  summary: 'play the example scenario: three servers, one client, one SIGKILL',
  help: `Usage: runtable demo

Plays the example scenario, as npm run demo does: three TargetApps register
under SampleServer/, a SourceApp lists them and sends each a message, one
target is killed with SIGKILL and leaves the table at once. It runs on a
private table of its own (--dir, --table and RUNTABLE_TABLE are not used) and
leaves no process behind.

Examples:
  runtable demo
  NO_COLOR=1 runtable demo`,
  options: {},

  async run(context) {
    expectArgs(context.positionals, [], 'demo');
    const here = fileURLToPath(import.meta.url);
    // dist/cli/demo.js plays dist/examples/demo.js; src/cli/demo.ts plays examples/demo.ts.
    const fromSource = here.endsWith('.ts');
    const root = path.resolve(path.dirname(here), '..', '..');
    const script = fromSource
      ? path.join(root, 'examples', 'demo.ts')
      : path.resolve(path.dirname(here), '..', 'examples', 'demo.js');
    if (!fs.existsSync(script)) {
      throw new Failure(
        `the demo's programs are not here (${script}); reinstall runtable, or run npm run build in a checkout`,
      );
    }
    const loader = fromSource ? process.execArgv : [];
    const child = spawn(process.execPath, [...loader, script], { cwd: root, stdio: 'inherit' });
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
