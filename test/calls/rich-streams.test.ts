// Streams and big payloads against a real owner process (test/fixtures/rich.ts): a slow consumer
// of a million items and the owner's memory, SIGKILL mid-stream, a 100 MB argument that does not
// stall small calls, and maxMessageBytes on either side failing one call alone. Items in order,
// a break and an iterator's error need no process: rich-memory.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type RuntableError, type Table, withOptions } from 'runtable';
import { STREAM_BATCH, STREAM_WINDOW } from '../../src/calls/streams.ts';
import { CHUNK_BYTES, MAX_TRANSFERS_IN_PROGRESS } from '../../src/wire/chunks.ts';
import { code, tableForEachTest, waitFor } from '../helpers.ts';
import { type RichService, startRich } from './rich-service.ts';

const MiB = 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const tables = tableForEachTest({ timeout: 30_000 });

/** `promise`, or a rejection naming `what` once `ms` have passed: a deadline, not a sleep. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// --- streams ---

test('a million items to a slow consumer: the owner never runs far ahead and its memory stays bounded', async (t) => {
  await startRich(tables.dir, 'Stream/slow');
  const remote = await tables.table.get<RichService>('Stream/slow');
  const total = 1_000_000;
  const baseline = await remote.memory();
  const pauses = new Set([1_000, 300_000, 700_000, 999_000]);
  const samples: { read: number; produced: number; heapGrowth: number; buffersGrowth: number }[] = [];
  let read = 0;
  const consume = async () => {
    for await (const item of await remote.numbers(total, 'slow')) {
      if (item !== read) assert.fail(`item ${read} was ${item}`);
      read++;
      if (pauses.has(read)) {
        // A deliberately slow consumer: a producer that ignored credit would run ahead now.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const produced = await remote.produced('slow');
        const memory = await remote.memory();
        samples.push({
          read,
          produced,
          heapGrowth: memory.heapUsed - baseline.heapUsed,
          buffersGrowth: memory.arrayBuffers - baseline.arrayBuffers,
        });
      }
    }
  };
  // Seconds when it works; without a deadline a loop that stops getting items would hang the run.
  try {
    await within(consume(), 40_000, 'the loop over a million items');
  } catch (error) {
    const state = { read, produced: await remote.produced('slow'), finallyRan: await remote.finallyRan('slow') };
    throw new Error(`${(error as Error).message}: ${JSON.stringify(state)}`);
  }
  t.diagnostic(`samples ${JSON.stringify(samples)}`);
  assert.equal(read, total);
  assert.equal(samples.length, pauses.size);
  for (const sample of samples) {
    const ahead = sample.produced - sample.read;
    assert.ok(ahead >= 0, JSON.stringify(sample));
    assert.ok(ahead <= STREAM_WINDOW + STREAM_BATCH, `producer ran ${ahead} items ahead: ${JSON.stringify(sample)}`);
    assert.ok(sample.heapGrowth < 32 * MiB, `owner heap grew by ${sample.heapGrowth} bytes`);
    assert.ok(sample.buffersGrowth < 32 * MiB, `owner buffers grew by ${sample.buffersGrowth} bytes`);
  }
  assert.equal(await remote.finallyRan('slow'), true);
});

test('SIGKILL of the owner while a stream is open ends the client loop with OBJECT_GONE', async () => {
  const owner = await startRich(tables.dir, 'Stream/kill');
  const remote = await tables.table.get<RichService>('Stream/kill');
  const stream = await remote.numbers(1_000_000_000, 'kill');
  let read = 0;
  const started = Date.now();
  const loop = async () => {
    for await (const _ of stream) {
      read++;
      if (read === 500) owner.child.kill('SIGKILL');
    }
  };
  await assert.rejects(within(loop(), 10_000, 'the loop over a killed owner'), code('OBJECT_GONE'));
  assert.ok(read >= 500);
  assert.ok(Date.now() - started < 10_000, 'it did not wait for a timeout');
  await owner.exited;
});

test('a loop waiting for its next item keeps its stream through garbage collection', async () => {
  await startRich(tables.dir, 'Stream/gc');
  const remote = await tables.table.get<RichService>('Stream/gc');
  const seen: number[] = [];
  // Items come every 100 ms; collections run while the loop waits for each. Nothing outside
  // the loop holds the stream, as in any ordinary `for await`.
  const collector = setInterval(gc, 25);
  try {
    const loop = (async () => {
      for await (const item of await remote.numbers(8, 'gc', 100)) seen.push(item);
    })();
    await within(loop, 5_000, 'the for-await loop over a slow stream');
  } catch (error) {
    const ran = await remote.finallyRan('gc');
    const produced = await remote.produced('gc');
    throw new Error(
      `${(error as Error).message}: got ${JSON.stringify(seen)}; owner pulled ${produced}, its finally ran: ${ran}`,
    );
  } finally {
    clearInterval(collector);
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a stream ends at the owner when the client drops it unread or closes its table', async () => {
  await startRich(tables.dir, 'Stream/dropped');
  const remote = await tables.table.get<RichService>('Stream/dropped');
  // Dropped without a loop: once collected here, the owner's iterator is stopped.
  await (async () => {
    await remote.numbers(1_000_000_000, 'dropped');
  })();
  await waitFor(
    async () => {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
      return remote.finallyRan('dropped');
    },
    10_000,
    "the dropped stream's finally",
  );
  assert.ok((await remote.produced('dropped')) <= STREAM_WINDOW + STREAM_BATCH);
  // The connection ends: every stream on it stops.
  const other = await tables.other();
  const theirs = await (await other.get<RichService>('Stream/dropped')).numbers(1_000_000_000, 'closed');
  assert.deepEqual(await theirs.next(), { value: 0, done: false });
  await other.close();
  await waitFor(() => remote.finallyRan('closed'), 5_000, "the closed client's stream finally");
});

// --- big payloads ---

test('a 100 MB argument travels while small calls on the same proxy keep completing', async (t) => {
  await startRich(tables.dir, 'Big/a');
  const remote = await tables.table.get<RichService>('Big/a');
  assert.equal(await remote.add(0, 0), 0);
  const big = Buffer.alloc(100 * MiB, 0x5a);
  let bigDone = false;
  const bigCall = remote.size(big).finally(() => {
    bigDone = true;
  });
  let completedBefore = 0;
  let slowest = 0;
  for (let i = 0; !bigDone; i++) {
    const started = Date.now();
    assert.equal(await remote.add(i, 1), i + 1);
    slowest = Math.max(slowest, Date.now() - started);
    if (!bigDone) completedBefore++;
  }
  assert.equal(await bigCall, big.length);
  t.diagnostic(`${completedBefore} small calls completed during the transfer; slowest ${slowest} ms`);
  assert.ok(completedBefore >= 3, `only ${completedBefore} small calls completed during the big one`);
  assert.ok(slowest < 5_000, `a small call took ${slowest} ms during the transfer`);
  assert.equal(await remote.add(2, 2), 4);
});

test("a message over the client's maxMessageBytes fails that call alone with FRAME_TOO_LARGE", async () => {
  await startRich(tables.dir, 'Big/client-limit');
  const limited = await tables.other({ maxMessageBytes: MiB });
  const remote = await limited.get<RichService>('Big/client-limit');
  // Sending too much: refused before it leaves, while another call goes through.
  const [tooBig, small] = await Promise.allSettled([remote.size(Buffer.alloc(2 * MiB)), remote.add(1, 1)]);
  assert.equal(tooBig.status, 'rejected');
  code('FRAME_TOO_LARGE')((tooBig as PromiseRejectedResult).reason);
  assert.deepEqual(small, { status: 'fulfilled', value: 2 });
  // Receiving too much: the reply is refused here, and that call alone fails.
  const started = Date.now();
  const [bigReply, other] = await Promise.allSettled([remote.bytes(2 * MiB), remote.add(2, 2)]);
  assert.equal(bigReply.status, 'rejected');
  code('FRAME_TOO_LARGE')((bigReply as PromiseRejectedResult).reason);
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(other, { status: 'fulfilled', value: 4 });
  // Under the limit, chunked messages still work both ways on the same connection.
  assert.equal(await remote.size(Buffer.alloc(MiB / 2)), MiB / 2);
  assert.equal((await remote.bytes(MiB / 2)).length, MiB / 2);
  assert.equal(await remote.add(3, 3), 6);
});

test("a message over the owner's maxMessageBytes fails that call alone with FRAME_TOO_LARGE, not a timeout", async () => {
  await startRich(tables.dir, 'Big/owner-limit', { RICH_MAX_MESSAGE_BYTES: String(MiB) });
  const remote = withOptions(await tables.table.get<RichService>('Big/owner-limit'), { timeout: 20_000 });
  const started = Date.now();
  const [tooBig, small] = await Promise.allSettled([remote.size(Buffer.alloc(2 * MiB)), remote.add(1, 1)]);
  assert.equal(tooBig.status, 'rejected');
  code('FRAME_TOO_LARGE')((tooBig as PromiseRejectedResult).reason);
  assert.ok(Date.now() - started < 10_000, `refused after ${Date.now() - started} ms`);
  assert.deepEqual(small, { status: 'fulfilled', value: 2 });
  // A result over the owner's limit cannot be sent: that call alone fails.
  await assert.rejects(remote.bytes(2 * MiB), code('FRAME_TOO_LARGE'));
  assert.equal(await remote.size(Buffer.alloc(MiB / 2)), MiB / 2);
  assert.equal(await remote.add(2, 3), 5);
});

test('many large calls at once on one connection all complete, arguments and results alike', async (t) => {
  await startRich(tables.dir, 'Big/many');
  // Generous for ~13 MB each way; a call that is never answered fails here instead of at 30 s.
  const remote = withOptions(await tables.table.get<RichService>('Big/many'), { timeout: 8_000 });
  const count = 2 * MAX_TRANSFERS_IN_PROGRESS;
  const size = 2 * CHUNK_BYTES - 1000; // two chunks each
  const [sent, received] = await Promise.all([
    Promise.allSettled(Array.from({ length: count }, (_, i) => remote.size(Buffer.alloc(size + i)))),
    Promise.allSettled(Array.from({ length: count }, (_, i) => remote.bytes(size + i))),
  ]);
  const outcome = (results: PromiseSettledResult<unknown>[]) => {
    const codes: Record<string, number> = {};
    for (const result of results) {
      const key = result.status === 'fulfilled' ? 'ok' : String((result.reason as RuntableError).code);
      codes[key] = (codes[key] ?? 0) + 1;
    }
    return codes;
  };
  t.diagnostic(`arguments: ${JSON.stringify(outcome(sent))}; results: ${JSON.stringify(outcome(received))}`);
  assert.deepEqual(outcome(sent), { ok: count }, `${count} calls with large arguments at once`);
  assert.deepEqual(outcome(received), { ok: count }, `${count} calls with large results at once`);
  sent.forEach((result, i) => {
    assert.deepEqual(result, { status: 'fulfilled', value: size + i });
  });
  assert.equal(await remote.add(1, 1), 2);
});

test('aborting a call while its large argument is still being sent reaches the owner', async () => {
  await startRich(tables.dir, 'Big/abort-upload');
  const remote = await tables.table.get<RichService>('Big/abort-upload');
  const controller = new AbortController();
  const call = withOptions(remote, { signal: controller.signal }).upload(Buffer.alloc(50 * MiB), 60_000, 'up');
  assert.equal(await remote.add(1, 1), 2, 'small calls pass while the upload is under way');
  controller.abort();
  await assert.rejects(call, code('ABORTED'));
  // Either the rest of the upload is dropped and the method never runs, or it runs and its
  // signal fires. What must not happen: it runs, uncancelled, for the full 60 s.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if ((await remote.started()).includes('up')) {
      await waitFor(
        async () => (await remote.cancelled()).some((c) => c.tag === 'up'),
        5_000,
        'the owner to be told of the abort of a call that started after it',
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

test('a maxMessageBytes below the chunk size is enforced on whole messages too (or refused)', async () => {
  await startRich(tables.dir, 'Big/tiny-limit');
  let limited: Table;
  try {
    limited = await tables.other({ timeout: 10_000, maxMessageBytes: 4096 });
  } catch (error) {
    code('BAD_ARGUMENT')(error); // refusing a limit it cannot keep is fine too
    return;
  }
  const remote = await limited.get<RichService>('Big/tiny-limit');
  await assert.rejects(remote.size(Buffer.alloc(10_000)), code('FRAME_TOO_LARGE'), 'sending 10 kB');
  await assert.rejects(remote.bytes(10_000), code('FRAME_TOO_LARGE'), 'taking 10 kB');
  assert.equal((await remote.bytes(1000)).length, 1000);
});
