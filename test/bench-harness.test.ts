// The bench's own check of each reply: cheap (a per-call tag, every byte one call in 64), yet a
// wrong, stale or mixed-up reply must still fail the run. Driven with in-process clients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Client, harnessAlone, pipelined, sequential } from '../bench/measure.ts';

const budget = { calls: 2000, ms: 10_000, min: 2000 };

function client(echo: (bytes: Uint8Array) => Uint8Array): Client {
  return { pids: [], echo: async (bytes) => echo(bytes), close: async () => {} };
}

test('an honest echo passes, and the harness alone is measured', async () => {
  const honest = client((bytes) => Buffer.from(bytes));
  const { callsPerSecond } = await pipelined(honest, budget);
  assert.ok(callsPerSecond > 0);
  await sequential(honest, budget);
  const { loop, bare } = await harnessAlone(budget);
  assert.ok(loop > 0 && bare > 0);
});

test('a reply meant for another call fails the run', async () => {
  let previous: Buffer | undefined;
  const mixed = client((bytes) => {
    const reply = previous ?? Buffer.from(bytes);
    previous = Buffer.from(bytes);
    return reply;
  });
  await assert.rejects(pipelined(mixed, budget), /tag of another call/);
  previous = undefined;
  await assert.rejects(sequential(mixed, budget), /tag of another call/);
});

test('a reply of the wrong length, or with a wrong byte, fails the run', async () => {
  await assert.rejects(
    pipelined(
      client((bytes) => Buffer.from(bytes).subarray(1)),
      budget,
    ),
    /differ/,
  );
  // The tag is intact and only the last byte differs: the sampled full compare catches it.
  const corrupt = client((bytes) => {
    const reply = Buffer.from(bytes);
    reply[reply.length - 1] = (reply[reply.length - 1] as number) ^ 1;
    return reply;
  });
  await assert.rejects(pipelined(corrupt, budget), /differ/);
});
