// The viewer's page for tests: the test runner runs TypeScript from source, so nothing else
// bundles src/ui/page. Built once per test process with the same script `npm run build` runs; the
// script renames finished files into place, so test files building at once do not trip each other.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers.ts';

let built = false;

export function ensurePage(): void {
  if (built) return;
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-page.mjs')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`building the viewer's page failed:\n${run.stdout}${run.stderr}`);
  built = true;
}
