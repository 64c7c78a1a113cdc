import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntableError } from '../../src/errors.ts';
import { PendingRequests } from '../../src/wire/pending.ts';

const timeoutError = (ms: number) => new RuntableError('TIMEOUT', `no answer in ${ms} ms`);
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (value) => ({ value }),
    (error: RuntableError) => ({ code: error.code, message: error.message }),
  );

describe('pending requests', () => {
  it('settle once each: by answer, by the shared timeout, or by their own timeout', async () => {
    // The timers are unref()ed, as in a real connection: keep this process up meanwhile.
    const keepAlive = setInterval(() => {}, 1000);
    const pending = new PendingRequests(40, timeoutError);
    const track = (id: number, timeout = 40) =>
      outcome(pending.track(id, timeout, undefined, false, undefined, undefined));
    const answered = track(1);
    const expires = track(2);
    const own = track(3, 10);
    const long = track(4, 2 ** 40);
    assert.equal(pending.settle(1, 'one', undefined), true);
    assert.equal(pending.settle(1, 'again', undefined), false);
    assert.deepEqual(await answered, { value: 'one' });
    assert.deepEqual(await own, { code: 'TIMEOUT', message: 'no answer in 10 ms' });
    assert.deepEqual(await expires, { code: 'TIMEOUT', message: 'no answer in 40 ms' });
    assert.equal(pending.size, 1, 'a request with no timer waits for its answer');
    pending.settle(4, 'late', undefined);
    assert.deepEqual(await long, { value: 'late' });
    clearInterval(keepAlive);
  });

  it('let a failure be recovered into the outcome, or rethrown', async () => {
    const pending = new PendingRequests(1000, timeoutError);
    const track = (id: number, recover: (error: RuntableError) => unknown) =>
      outcome(pending.track(id, 1000, undefined, false, { recover }, undefined));
    const retried = track(1, () => Promise.resolve('retried'));
    const rethrown = track(2, (error) => {
      throw new RuntableError('OBJECT_GONE', `mapped: ${error.message}`);
    });
    pending.settle(1, undefined, new RuntableError('NOT_REGISTERED', 'gone'));
    pending.rejectAll(new RuntableError('TABLE_UNAVAILABLE', 'closed'));
    assert.deepEqual(await retried, { value: 'retried' });
    assert.deepEqual(await rethrown, { code: 'OBJECT_GONE', message: 'mapped: closed' });
  });

  it('find each request among many in flight, whose ids share slots, and fail them oldest first', async () => {
    const pending = new PendingRequests(60_000, timeoutError);
    // 2,000 in flight make the table grow (to 4,096 slots); 1 and the ids 4,096 and 8,192 later
    // want the same slot, as do 2 and 4,098.
    const ids = [1, 4097, 8193, 2, 4098, ...Array.from({ length: 2000 }, (_, i) => 1000 + i)];
    const outcomes = ids.map((id) => outcome(pending.track(id, 60_000, undefined, false, undefined, undefined)));
    assert.equal(pending.size, ids.length);
    assert.equal(pending.settle(4097, 'b', undefined), true);
    assert.equal(pending.settle(4097, 'again', undefined), false);
    assert.equal(pending.settle(12289, 'never sent', undefined), false);
    assert.equal(pending.settle(1, 'a', undefined), true);
    assert.equal(pending.settle(1500, 'c', undefined), true);
    assert.equal(pending.size, ids.length - 3);
    const order: number[] = [];
    outcomes.forEach((settled, i) => {
      settled.then(() => order.push(ids[i] as number));
    });
    pending.rejectAll(new RuntableError('TABLE_UNAVAILABLE', 'closed'));
    const results = await Promise.all(outcomes);
    assert.deepEqual(results.slice(0, 3), [
      { value: 'a' },
      { value: 'b' },
      { code: 'TABLE_UNAVAILABLE', message: 'closed' },
    ]);
    assert.deepEqual(results[ids.indexOf(1500)], { value: 'c' });
    assert.equal(pending.size, 0);
    const rejected = order.filter((id) => id !== 1 && id !== 4097 && id !== 1500);
    assert.deepEqual(
      rejected,
      [...rejected].sort((a, b) => a - b),
      'the oldest request fails first',
    );
  });
});
