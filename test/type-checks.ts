// Compiled by `npm run typecheck`, never run: Remote<T> must let TypeScript check remote calls
// like local ones, and refuse what cannot work.
import { type connect, oneway, type Remote, withOptions } from 'runtable';

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
