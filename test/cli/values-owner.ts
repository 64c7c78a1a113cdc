// An owner for the CLI tests beyond test/fixtures/owner.ts: values JSON lacks, a stream, and a
// touch on demand. Registers argv[2], prints "ready <pid>", serves until killed.
import { connect, type Registration } from 'runtable';

const moniker = process.argv[2] ?? 'Values/a';
let reg: Registration | undefined;

const service = {
  values: () => ({
    when: new Date('2024-01-02T03:04:05.678Z'),
    big: 2n ** 70n,
    bytes: new Uint8Array([104, 105]),
    map: new Map([['k', 1]]),
    set: new Set(['a', 'b']),
    nothing: undefined,
    list: [1, 'two', null],
  }),
  nothing: () => undefined,
  /** Yields 0..n-1, one every `ms`. */
  async *ticks(n: number, ms: number) {
    for (let i = 0; i < n; i++) {
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      yield { i };
    }
  },
  /** Never ends: for Ctrl-C. */
  async *forever() {
    for (let i = 0; ; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield i;
    }
  },
  async touch(note: string) {
    await reg?.touch({ note });
    return note;
  },
};

const table = await connect();
reg = await table.register(moniker, service, { metadata: { role: 'values', port: 8080 } });
process.on('SIGTERM', async () => {
  await table.close();
  process.exit(0);
});
console.log(`ready ${process.pid}`);
