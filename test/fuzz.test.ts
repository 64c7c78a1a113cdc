// Hostile input at scale: a seeded set of fuzz cases (random bytes, random frames, random CBOR,
// valid messages mutated) against a real broker and a real owner process, each case on its own
// connection. The invariant: both processes survive, Object.prototype in the owner is untouched,
// and connections old and new keep working. `npm run fuzz` is the long run of the same cases.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { reproduce, runFuzz } from './fuzz/run.ts';

/** Fixed, so that CI runs the same cases every time; FUZZ_SEED picks another set. */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
const CASES_PER_TARGET = 2500;

it(`${CASES_PER_TARGET} fuzz cases each against the broker and an owner endpoint (seed ${SEED}) leave both serving`, async () => {
  const failures = await runFuzz({ seed: SEED, cases: CASES_PER_TARGET, batch: 500 });
  assert.deepEqual(
    failures.map((f) => `${f.target} ${f.what}: ${f.problem}; replay: ${reproduce(f)}`),
    [],
  );
});
