// npm run fuzz -- [--cases N] [--seed N] [--from I] [--target broker|endpoint] [--batch N]
// The long fuzz run (the soak mode): the seed is printed first, and every failure comes with the
// command line that replays it, since a case is made from (seed, index) alone.

import { parseArgs } from 'node:util';
import type { Target } from './cases.ts';
import { reproduce, runFuzz } from './run.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    from: { type: 'string', default: '0' },
    target: { type: 'string' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
  },
});

function count(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer of at least ${min}, not ${value}\n`);
    process.exit(2);
  }
  return n;
}

if (values.target !== undefined && values.target !== 'broker' && values.target !== 'endpoint') {
  process.stderr.write(`--target must be broker or endpoint, not ${values.target}\n`);
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count('seed', values.seed, 0);
const cases = count('cases', values.cases, 1);
const targets: Target[] = values.target ? [values.target as Target] : ['broker', 'endpoint'];
console.log(`fuzz: seed ${seed}, ${cases} cases from ${values.from} against ${targets.join(' and ')}`);
const started = Date.now();
const failures = await runFuzz({
  seed,
  cases,
  from: count('from', values.from, 0),
  targets,
  batch: count('batch', values.batch, 1),
  concurrency: count('concurrency', values.concurrency, 1),
  progress: (done, total) => {
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`\r${done}/${total} cases, ${seconds.toFixed(0)} s`);
  },
});
process.stdout.write('\n');
for (const failure of failures) {
  console.log(`FAIL ${failure.target} case ${failure.what}: ${failure.problem}\n  replay: ${reproduce(failure)}`);
}
console.log(
  failures.length === 0 ? `fuzz: no failures (seed ${seed})` : `fuzz: ${failures.length} failures (seed ${seed})`,
);
process.exit(failures.length === 0 ? 0 : 1);
