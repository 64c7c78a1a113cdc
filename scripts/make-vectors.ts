// Writes the golden vectors of docs/vectors/ from test/wire/vector-cases.ts. Run after a
// deliberate wire change (node --import tsx --conditions=runtable-source scripts/make-vectors.ts)
// and commit the result; test/wire/vectors.test.ts fails until the files match the code.

import fs from 'node:fs';
import path from 'node:path';
import { renderVectors, VECTOR_DIR } from '../test/wire/vector-render.ts';

const files = renderVectors();
fs.mkdirSync(VECTOR_DIR, { recursive: true });
for (const name of fs.readdirSync(VECTOR_DIR)) {
  if (name.endsWith('.json') && !files.has(name)) {
    fs.rmSync(path.join(VECTOR_DIR, name));
  }
}
for (const [name, text] of files) fs.writeFileSync(path.join(VECTOR_DIR, name), text);
console.log(`${files.size} vectors written to ${path.relative(process.cwd(), VECTOR_DIR)}`);
