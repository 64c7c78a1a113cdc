// runtable call <moniker> <method> [args...]: one call, its result on stdout. A method that
// streams prints each item as it arrives. Ctrl-C cancels the call (the owner is told) and exits 130.

import { RuntableError, withOptions } from '../index.js';
import { formatJson, formatReadable, isStream, parseCallArgs } from '../text/values.js';
import { expectArgs, msOption } from './args.js';
import { activatable, type Command, noBrokerText, openOrStartTable, openTable } from './context.js';
import { EXIT, untilInterrupted } from './exit.js';
import { notRegistered } from './inspect.js';
import { print } from './output.js';

type Method = (...args: unknown[]) => Promise<unknown>;

export const call: Command = {
  name: 'call',
  summary: 'call a method of a registered object with JSON arguments',
  help: `Usage: runtable call <moniker> <method> [args...] [--timeout ms] [--json]

Calls <method> on the object registered as <moniker> and prints its result.
Each argument is parsed as JSON; a bare word that is not JSON is a string
(hello, 1.2.3). An argument that starts with { [ or " must be valid JSON.
Quote for the shell: '{"a": 1}'. A negative number is a number: add -1 2.

The result is JSON when stdout is not a terminal (Date as ISO string, BigInt
as a string, bytes as base64, Map as an object, Set as an array, nothing as
null), and Node's rendering on a terminal. A method that returns an async
iterable prints each item on its own line as it arrives (NDJSON for a pipe).
An error prints its code and message on stderr and exits non-zero (see below).
Ctrl-C cancels the call and exits 130. If nobody holds <moniker> and a service
file names it, its command is started first (activation; a broker too, if
none runs); otherwise it never starts a broker.

Options:
  --timeout <ms>  give up after this long (exit 4); default 30000
  --json          JSON output on a terminal too

Examples:
  runtable call SampleServer/alpha sendData hello
  runtable call Calc/main add 2 3
  runtable call Store/a put '{"key": "k", "tags": ["x"]}'
  runtable call Store/a get '"42"'          # the string "42", not the number
  runtable call Feed/a items 100 | jq .     # a stream: one JSON line per item
  runtable call Jobs/a run --timeout 500`,
  options: { timeout: { type: 'string' }, json: { type: 'boolean' } },

  async run(context) {
    const { positionals, values } = context;
    expectArgs(positionals, ['<moniker>', '<method>'], 'call', Number.POSITIVE_INFINITY);
    const [moniker, method, ...rest] = positionals as [string, string, ...string[]];
    const args = parseCallArgs(rest);
    const timeout = msOption(values, 'timeout', 'call');
    const { json } = context;
    const colors = context.out.enabled;

    const table =
      (await openTable(context, timeout)) ??
      (activatable(moniker) ? await openOrStartTable(context, timeout) : undefined);
    if (!table) throw notRegistered(moniker, ` (${noBrokerText(context.dir)})`);
    try {
      return await untilInterrupted(async (signal) => {
        // get() first: for a moniker nobody holds, it starts the service that provides it.
        const found = await table.get(moniker).catch((error: RuntableError) => {
          throw error.code === 'NOT_REGISTERED' ? notRegistered(moniker, '') : error;
        });
        const entry = await table.lookup(moniker);
        if (!entry) throw notRegistered(moniker, '');
        if (!entry.methods.includes(method)) {
          const known = entry.methods.length > 0 ? entry.methods.join(', ') : 'none';
          throw new RuntableError('NO_SUCH_METHOD', `${moniker} has no method "${method}"; its methods: ${known}`);
        }
        const remote = withOptions(found, {
          signal,
          ...(timeout === undefined ? {} : { timeout }),
        }) as unknown as Record<string, Method>;
        const result = await (remote[method] as Method)(...args);
        if (isStream(result)) {
          await printStream(result, signal, (item) =>
            print(json ? formatJson(item) : formatReadable(item, colors, true)),
          );
        } else {
          print(json ? formatJson(result, process.stdout.isTTY) : formatReadable(result, colors));
        }
        return signal.aborted ? EXIT.INTERRUPTED : EXIT.OK;
      });
    } finally {
      await table.close();
    }
  },
};

/** Prints items as they come until the stream ends or `signal` fires, which stops the owner's iterator. */
async function printStream(stream: AsyncIterable<unknown>, signal: AbortSignal, show: (item: unknown) => void) {
  const iterator = stream[Symbol.asyncIterator]();
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  for (;;) {
    const step = await Promise.race([iterator.next(), aborted]);
    if (step === 'aborted') {
      await Promise.resolve(iterator.return?.()).catch(() => {});
      return;
    }
    if (step.done) return;
    show(step.value);
  }
}
