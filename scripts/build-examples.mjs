// Compiles the seed's programs (examples/*.ts) to dist/examples, so that `runtable demo` plays
// them from an installed package with plain node. They import 'runtable' by name, which resolves
// to the package itself (a self-reference through its exports).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = path.join(ROOT, 'examples');
const OUT = path.join(ROOT, 'dist', 'examples');

await esbuild.build({
  entryPoints: fs
    .readdirSync(SOURCE)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.join(SOURCE, name)),
  bundle: false,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: OUT,
  logLevel: 'error',
});
