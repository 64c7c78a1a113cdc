// The page's files as `npm run build` leaves them (esbuild bundles src/ui/page into dist/ui/page).
// Read once when the viewer starts, from the package root, whether this code runs from src or dist.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ui/page under the package root: this file sits two levels down in src/ and in dist/ alike. */
export const PAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui', 'page');

export interface Asset {
  type: string;
  body: Buffer;
}

export interface PageAssets {
  html: Asset;
  script: Asset;
  styles: Asset;
}

export function loadPage(dir = PAGE_DIR): PageAssets {
  const read = (name: string, type: string): Asset => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      throw new Error(`the viewer's page is not built (${file} is missing); run npm run build`);
    }
    return { type, body: fs.readFileSync(file) };
  };
  return {
    html: read('index.html', 'text/html; charset=utf-8'),
    script: read('app.js', 'text/javascript; charset=utf-8'),
    styles: read('app.css', 'text/css; charset=utf-8'),
  };
}
