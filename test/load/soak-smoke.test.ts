// The soak must not rot: a run of a few seconds with every kind of traffic, exit 0 required and
// its report printed. No timing and no trend is asserted (too short to judge; see bench/soak.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { NODE_TS, ROOT } from '../helpers.ts';

test('a short soak runs every kind of traffic and reports RSS and slopes', async () => {
  const soak = spawn(
    process.execPath,
    [...NODE_TS, 'bench/soak.ts', '--seconds', '2', '--owners', '2', '--clients', '1'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  after(() => {
    if (soak.exitCode === null) soak.kill('SIGTERM');
  });
  let output = '';
  soak.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  soak.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => soak.once('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /broker \(MiB\)\towner 0 \(MiB\)\towner 1 \(MiB\)/);
  assert.match(output, /slope after warm-up/);
  const traffic = /traffic: (\d+) calls, \d+ MiB echoed, (\d+) streams, (\d+) events, (\d+) watch events/.exec(output);
  assert.ok(traffic, output);
  for (const count of traffic.slice(1)) assert.ok(Number(count) > 0, `every kind of traffic ran: ${traffic[0]}`);
});
