// Bundles the viewer's page (src/ui/page, browser-only TypeScript and CSS) into dist/ui/page with
// esbuild. Run by `npm run build` and by the browser tests' set-up; each file is written under a
// temporary name and renamed, so a server reading the page never sees half a file.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = path.join(ROOT, 'src', 'ui', 'page');
export const PAGE_OUT = path.join(ROOT, 'dist', 'ui', 'page');

export async function buildPage(outdir = PAGE_OUT) {
  const result = await esbuild.build({
    entryPoints: { app: path.join(SOURCE, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    outdir,
    write: false,
    logLevel: 'silent',
  });
  fs.mkdirSync(outdir, { recursive: true });
  const files = result.outputFiles.map((file) => ({ path: file.path, contents: file.contents }));
  files.push({ path: path.join(outdir, 'index.html'), contents: fs.readFileSync(path.join(SOURCE, 'index.html')) });
  for (const file of files) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, file.contents);
    fs.renameSync(temporary, file.path);
  }
  return files.map((file) => path.relative(ROOT, file.path));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildPage();
  } catch (error) {
    process.stderr.write(`build-page: ${error.message}\n`);
    process.exitCode = 1;
  }
}
