// Importing runtable changes nothing else in the process: its codec registers no cbor-x
// extension (those are process-wide), so another cbor-x user in the same process encodes Errors
// and decodes cbor-x's own tags 6/28/29/51 exactly as without runtable. Run in a real process,
// since a test runner's process may have loaded runtable already.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup, spawnFixture, tempTableDir } from '../helpers.ts';

const dir = tempTableDir();
afterEach(async () => {
  await cleanup(dir);
});

test("another cbor-x user's Errors and tags 6, 28, 29, 51 behave the same after importing runtable", async () => {
  const fixture = spawnFixture('cbor-neighbour', [], dir);
  const line = await fixture.waitForLine(/^\{/);
  assert.equal(await fixture.exited, 0);
  const { before, after, imported } = JSON.parse(line);
  assert.equal(imported, 'function', 'runtable was imported');
  // cbor-x's own defaults did what they do: an Error as tag 27, shared values and packed tables decoded.
  assert.match(before.errorBytes, /^d81b/, 'cbor-x writes an Error as tag 27');
  assert.match(before.sharedBytes, /d81c/, 'the structured-clone encoder wrote tag 28');
  assert.match(before.packedBytes, /^d833/, 'the packing encoder wrote tag 51');
  assert.deepEqual(before.sharedBack, { value: { name: 'loop', selfIsSelf: true } });
  assert.deepEqual(before.packedBack, {
    value: { list: ['a repeated string', 'a repeated string', 'a repeated string'] },
  });
  assert.deepEqual(after, before);
});
