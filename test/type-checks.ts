// Compiled by `npm run typecheck`, never run: Remote<T> must let TypeScript check remote calls
// like local ones, and refuse what cannot work.
import {
  type CallRecord,
  type connect,
  on,
  oneway,
  type Ref,
  type Registration,
  type Remote,
  type RemoteFunction,
  type RemoteValue,
  ref,
  type Subscription,
  withOptions,
} from 'runtable';

interface ICommHelper {
  sendData(data: string): string;
  received(): Promise<string[]>;
  count: number;
  _private(): void;
}

declare const table: Awaited<ReturnType<typeof connect>>;
const server: Remote<ICommHelper> = await table.get<ICommHelper>('SampleServer/a');

const reply: Promise<string> = server.sendData('hello');
const list: Promise<string[]> = server.received(); // Promise<Promise<T>> is flattened
void reply;
void list;
oneway(server).sendData('fire and forget');
const timed: Promise<string> = withOptions(server, { timeout: 500 }).sendData('x');
void timed;

// @ts-expect-error arguments are checked
server.sendData(42);
// @ts-expect-error unknown methods do not exist
server.nope();
// @ts-expect-error properties are not methods, so they are not on the proxy
server.count;
// @ts-expect-error _private names are never exposed
server._private();
// @ts-expect-error results are Promises, not plain values
const wrong: string = server.sendData('x');
void wrong;
// @ts-expect-error a one-way call returns nothing to await
const nothing: Promise<string> = oneway(server).sendData('x');
void nothing;

// --- Rich calls: callbacks, references, streams, events ---

interface Counter {
  inc(by?: number): number;
  value(): number;
  _reset(): void;
}

interface Rich {
  tick(n: number, cb: (i: number) => string): Promise<string[]>;
  deep(arg: { a: { fn: (x: number) => number } }): number;
  counter(): Ref<Counter>;
  counterLater(): Promise<Ref<Counter>>;
  numbers(n: number): AsyncGenerator<number>;
  items(): AsyncIterable<{ id: string }>;
  counters(): AsyncIterable<Ref<Counter>>;
}

const rich = await table.get<Rich>('Rich/a');

// A function argument is checked like a local one, at any depth.
const ticks: Promise<string[]> = rich.tick(3, (i) => `t${i.toFixed(0)}`);
const deep: Promise<number> = rich.deep({ a: { fn: (x) => x * 2 } });
void ticks;
void deep;

// Ref<U> arrives as Remote<U>, returned directly or through a Promise.
const counter: Remote<Counter> = await rich.counter();
const later: Remote<Counter> = await rich.counterLater();
const incremented: Promise<number> = counter.inc(2);
void later;
void incremented;

// An async generator or iterable arrives as an AsyncIterableIterator of its (mapped) items.
const numbers: AsyncIterableIterator<number> = await rich.numbers(10);
for await (const n of numbers) {
  const typed: number = n;
  void typed;
}
const items: AsyncIterableIterator<{ id: string }> = await rich.items();
const counters: AsyncIterableIterator<Remote<Counter>> = await rich.counters();
void items;
void counters;
const mapped: RemoteValue<AsyncIterable<Ref<Counter>>> = counters;
void mapped;

// ref() makes a Ref of the object; on() gives an unsubscribe function with `ready`.
const made: Ref<Counter> = ref<Counter>({ inc: () => 1, value: () => 1, _reset() {} });
void made;
const off: Subscription = on(rich, 'tick', (i: number) => void i);
const ready: Promise<void> = off.ready;
void ready;
off();

// What an owner receives for a callback: calling it returns a Promise of its awaited result.
declare const callback: RemoteFunction<(x: number) => string>;
const called: Promise<string> = callback(1);
void called;

// @ts-expect-error a callback's parameter types are checked
rich.tick(3, (i: string) => i);
// @ts-expect-error a callback must be a function
rich.tick(3, 'not a function');
// @ts-expect-error a callback's return type is checked
rich.tick(3, (i: number) => i);
// @ts-expect-error a nested callback is checked too
rich.deep({ a: { fn: (x: string) => x } });
// @ts-expect-error a referenced object has only its own methods
counter.nope();
// @ts-expect-error _private methods of a referenced object are not on its proxy
counter._reset();
// @ts-expect-error methods of a reference return Promises
const plain: number = counter.value();
void plain;
// @ts-expect-error a Ref is not a Remote: it must be awaited from the call
const notAwaited: Remote<Counter> = rich.counter();
void notAwaited;
// @ts-expect-error a stream is not an array
void (await rich.numbers(3)).length;
// @ts-expect-error stream items keep their type
const wrongItems: AsyncIterableIterator<string> = await rich.numbers(3);
void wrongItems;
// @ts-expect-error items that are references arrive as Remotes, not Refs
const wrongRefs: AsyncIterableIterator<Ref<Counter>> = await rich.counters();
void wrongRefs;
// @ts-expect-error ref() takes an object
ref(42);
// @ts-expect-error a RemoteFunction's arguments are checked
callback('x');
// @ts-expect-error a one-way call of a stream method gives nothing to iterate
const noStream: Promise<unknown> = oneway(rich).numbers(3);
void noStream;

// --- Typed events: on() checks names and listener arguments against the owner's event map ---

interface Build {
  start(target: string): void;
}
/** Event name to the arguments it carries, as @types/node's EventEmitter<T> takes them. */
interface BuildEvents {
  progress: [done: number, total: number];
  finished: [];
}

const build = await table.get<Build, BuildEvents>('Build/a');
on(build, 'progress', (done, total) => {
  const fraction: number = done / total;
  void fraction;
});
on(build, 'finished', () => {});
on(build, 'progress', (done: number) => void done); // fewer parameters are fine, as everywhere
on(withOptions(build, { timeout: 50 }), 'finished', () => {}); // withOptions keeps the map
// @ts-expect-error a misspelt event does not compile
on(build, 'progres', () => {});
// @ts-expect-error a listener of the wrong argument types does not compile
on(build, 'progress', (done: string) => void done);
// @ts-expect-error an event with no arguments gives the listener none
on(build, 'finished', (code: number) => void code);
// @ts-expect-error withOptions keeps the map, misspellings included
on(withOptions(build, { timeout: 50 }), 'finish', () => {});

// Without a map, on() takes any name and any listener, as before.
on(server, 'anything', (a: string, b: number) => void [a, b]);
declare const somethingUntyped: unknown;
on(somethingUntyped, 'x', (n: number) => void n);

// The owner side: register<E>() types emit() with the same map.
const owned: Registration<BuildEvents> = await table.register<BuildEvents>('Build/a', { start() {} });
owned.emit('progress', 1, 10);
owned.emit('finished');
// @ts-expect-error emit checks the event name
owned.emit('progres', 1, 10);
// @ts-expect-error emit checks the arguments
owned.emit('progress', '1', 10);
// @ts-expect-error emit checks how many arguments
owned.emit('finished', 1);
const loose = await table.register('Build/b', {});
loose.emit('whatever', 1, 'two', { three: 3 });

// --- Optional methods stay optional; overloads stay overloads ---

interface Service {
  stop?(): void;
  find(id: number): string;
  find(name: string, exact: boolean): string[];
  total(a: number): number;
  total(a: number, b: number): number;
  total(a: number, b: number, c: number): number;
}

const service = await table.get<Service>('Service/a');
const stopped: Promise<void> | undefined = service.stop?.();
void stopped;
// @ts-expect-error an optional method may be missing: call it with ?.
service.stop();
const byId: Promise<string> = service.find(1);
const byName: Promise<string[]> = service.find('x', true);
const three: Promise<number> = service.total(1, 2, 3);
void byId;
void byName;
void three;
// @ts-expect-error each overload keeps its own result type
const wrongOverload: Promise<string> = service.find('x', true);
void wrongOverload;
// @ts-expect-error arguments must match one of the overloads
service.find('x');
// @ts-expect-error no overload takes four numbers
service.total(1, 2, 3, 4);
oneway(service).find(1);
oneway(service).find('x', false);
oneway(service).stop?.();
// @ts-expect-error a one-way view keeps the overloads' parameters
oneway(service).find(true);
// --- Results as data: a class instance arrives as its own data (README, Values) ---

class User {
  name = 'ada';
  born = new Date(0);
  tags = ['x'];
  onChange: (value: string) => void = () => {};
  greet(): string {
    return `hi ${this.name}`;
  }
}
interface Users {
  user(): User;
  users(): Promise<User[]>;
  pair(): [User, number];
  bytes(): Buffer;
  byName(): Map<string, number>;
  anything(): unknown;
}
const users = await table.get<Users>('Users/a');
const user = await users.user();
const name: string = user.name;
const born: Date = user.born;
const tags: string[] = user.tags;
const [first] = await users.users();
const firstName: string | undefined = first?.name;
const [paired, count] = await users.pair();
const pairedName: string = paired.name;
const pairedCount: number = count;
const bytes: Buffer = await users.bytes();
const nameCounts: Map<string, number> = await users.byName();
const anything: unknown = await users.anything();
// A function held in a property arrives as a RemoteFunction, if it is there at all.
const changed: Promise<void> | undefined = user.onChange?.('y');
void [name, born, tags, firstName, pairedName, pairedCount, bytes, nameCounts, anything, changed];
// @ts-expect-error a class's methods stay home: they may be absent from the data
user.greet();
// @ts-expect-error a function property, when there, returns a Promise
const notPromise: string | undefined = user.onChange?.('y');
void notPromise;
// Waiting for a name, activation and following subscriptions.
const waited: Promise<{ moniker: string; pid: number }> = table.waitFor('Build/daemon', { timeout: 500 });
void waited;
const bound: Remote<ICommHelper> = await table.get<ICommHelper>('Build/daemon', { wait: 1000 });
void bound;
const followed: Subscription = on(rich, 'tick', (i: number) => void i, {
  grace: 500,
  onGap: (gap) => void (gap.until.getTime() - gap.since.getTime()),
  onEnd: (reason) => void reason.code,
});
const state: 'active' | 'following' | 'ended' = followed.state;
const endedWith: Promise<{ code: string } | undefined> = followed.ended;
void state;
void endedWith;
declare const idleReg: Awaited<ReturnType<typeof table.register>>;
idleReg.on('idle', () => {});
// @ts-expect-error an idle listener takes no reason
idleReg.on('idle', (reason: { code: string }) => void reason);
// @ts-expect-error wait is a number of ms
void table.get('Build/daemon', { wait: 'soon' });

// table.monitor(): records with their documented fields; the outcome is 'ok' or an ErrorCode.
for await (const rec of table.monitor('SampleServer/', { values: true })) {
  const record: CallRecord = rec;
  const outcome: 'ok' | 'REMOTE' | 'NO_SUCH_METHOD' | string = record.outcome;
  const when: Date = record.endedAt;
  const sizes: number = record.bytesIn + record.bytesOut + record.items + record.missed + record.ms;
  const flags: boolean = record.oneway || record.stream || record.callback;
  const text: string | undefined = record.args ?? record.result;
  void [outcome, when, sizes, flags, text, record.moniker, record.method, record.ownerPid, record.callerPid];
  // @ts-expect-error an outcome is a code, not any string
  const wrong: CallRecord['outcome'] = 'NOT_A_CODE';
  void wrong;
}
// @ts-expect-error values is a boolean
table.monitor('', { values: 'yes' });
