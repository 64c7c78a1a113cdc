// A Node owner for the Python client's tests: registers each moniker given with a service that
// streams, throws with causes, returns every value type and large results; prints "ready <pid>".
import { connect } from 'runtable';

const service = {
  echo: <T>(value: T): T => value,
  slow(ms: number) {
    // Printed, so that a test knows the call is in flight before it kills this process.
    console.log(`slow ${ms}`);
    return new Promise((resolve) => setTimeout(() => resolve(ms), ms));
  },
  async *ticks(count: number) {
    for (let i = 0; i < count; i++) yield i;
  },
  async *failing(after: number) {
    for (let i = 0; i < after; i++) yield i;
    throw Object.assign(new Error('feed broke'), { code: 'ECONNRESET' });
  },
  fail() {
    const inner = Object.assign(new RangeError('line 3 is too long'), { code: 'E_LINE' });
    throw Object.assign(new TypeError('cannot parse the order', { cause: inner }), { code: 'E_PARSE' });
  },
  bytes: (count: number) => Buffer.alloc(count, 0x61),
  length: (value: Uint8Array | string) => value.length,
  values: () => ({
    date: new Date('2026-11-23T20:00:00.250Z'),
    map: new Map<unknown, unknown>([[1, 'one']]),
    set: new Set(['a']),
    big: 5n,
    huge: 2n ** 70n,
    floats: new Float64Array([1.5]),
    u8: Uint8Array.of(1, 2),
    missing: undefined,
    error: Object.assign(new Error('inside'), { code: 'E_IN' }),
  }),
};

const table = await connect();
for (const moniker of process.argv.slice(2)) await table.register(moniker, service);
console.log(`ready ${process.pid}`);
