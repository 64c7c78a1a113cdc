// Fixtures bundled into plain JavaScript, for tests that start dozens of processes: a bundled
// child skips tsx and starts on a fraction of the CPU. It cannot start a broker (broker-main is
// not in the bundle), so the test's own table must have one running first.

import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './helpers.ts';

const OUT_DIR = path.join(ROOT, 'node_modules', '.cache', 'runtable-fixtures');
const bundles = new Map<string, Promise<string>>();

/** Bundles test/fixtures/<name>.ts once per test process; resolves with its path under ROOT. */
export function bundleFixture(name: string): Promise<string> {
  let bundle = bundles.get(name);
  if (!bundle) {
    bundle = make(name);
    bundles.set(name, bundle);
  }
  return bundle;
}

async function make(name: string): Promise<string> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'test', 'fixtures', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['runtable-source'],
    // Resolved from node_modules at run time, as the package's users do.
    external: ['cbor-x'],
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error(`esbuild produced nothing for ${name}`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `${name}.mjs`);
  // Test files run in parallel processes: each writes its own copy and renames it into place.
  const partial = `${file}.${process.pid}`;
  fs.writeFileSync(partial, code);
  fs.renameSync(partial, file);
  return path.relative(ROOT, file);
}
